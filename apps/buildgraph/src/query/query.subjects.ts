import { querySubject } from '@buildgraph/contracts';

/** The queries this service answers over NATS (`log` is HTTP only: logs can be larger than a NATS message). */
export const NATS_QUERY_SUBJECTS = (['drv', 'events', 'should-build', 'downstream', 'attempt-trace', 'group', 'incoherence', 'fods-due'] as const).map(querySubject);
