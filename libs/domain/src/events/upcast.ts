/**
 * Upcasters: an event written at an older schema version is lifted to the current one on read, never
 * rewritten in the log. Each function takes data valid at version v and returns data valid at v + 1.
 */
import { cacheOfV1, FailureCause } from '../failure/classify';
import { DomainEventType } from './types';

type Data = Record<string, unknown>;

export const UPCASTERS: Partial<Record<DomainEventType, Record<number, (data: Data) => Data>>> = {
  AttemptFailed: {
    // v2 added the negative-cache decision; v1 knew only `transient`
    1: (data) => ({ ...data, cache: cacheOfV1(data.cause as FailureCause, data.transient as boolean) }),
  },
};
