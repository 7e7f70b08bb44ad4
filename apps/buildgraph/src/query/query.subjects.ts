import { querySubject } from '@buildgraph/contracts';

/** The queries this service answers over NATS; others get UNKNOWN_SUBJECT until their read models exist. */
export const NATS_QUERY_SUBJECTS = [querySubject('drv'), querySubject('events')];
