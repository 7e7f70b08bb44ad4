/**
 * Event ids are UUIDv5 of an idempotency key, so appending the same fact twice (a retried command, two
 * policy replicas) writes the same id, which every event store adapter treats as a no-op.
 */
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';
import { parseStorePath } from '@buildgraph/nix';

/** buildgraph's UUIDv5 namespace. Fixed forever: changing it would change every deterministic id. */
export const EVENT_ID_NAMESPACE = '50386eab-8224-4f83-bc35-137f7d0c3728';

const NAMESPACE_BYTES = parseUuid(EVENT_ID_NAMESPACE);

export function eventId(idempotencyKey: string): string {
  return uuidv5(idempotencyKey, NAMESPACE_BYTES);
}

/**
 * The keys, one per fact. Attempt ids are unique per farm report, not globally, so attempt keys are
 * scoped by the drv's hash part.
 */
export const idempotencyKeys = {
  derivationRegistered: (drvPath: string) => `${drvPath}/DerivationRegistered`,
  attempt: (drvPath: string, attemptId: string, type: string) =>
    `${parseStorePath(drvPath).hashPart}/${attemptId}/${type}`,
  resultPoisoned: (drvPath: string, serial: number) => `${drvPath}/ResultPoisoned/${serial}`,
  /**
   * With the attempts invalidated: a later attempt of an already-invalidated drv that consumed the same
   * poisoned output is a new fact, not a retry. Without them (the drv decider, until it passes its
   * attemptIds) the key is the old (root, drvPath) one.
   */
  resultInvalidated: (rootEventId: string, drvPath: string, attemptIds: readonly string[] = []) =>
    attemptIds.length === 0
      ? `ResultInvalidated/${rootEventId}/${drvPath}`
      : `ResultInvalidated/${rootEventId}/${drvPath}/${[...attemptIds].sort().join(',')}`,
  failureCleared: (drvPath: string, attemptId: string) =>
    `${parseStorePath(drvPath).hashPart}/${attemptId}/FailureCleared`,
  group: (groupId: string, type: string) => `group/${groupId}/${type}`,
  groupMember: (groupId: string, drvPath: string) => `group/${groupId}/member/${drvPath}`,
};
