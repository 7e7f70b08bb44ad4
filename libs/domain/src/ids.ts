/**
 * Event ids are UUIDv5 of an idempotency key, so appending the same fact twice (a retried command, two
 * policy replicas) writes the same id, which every event store adapter treats as a no-op.
 */
import { createHash } from 'node:crypto';
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';
import { parseStorePath } from '@buildgraph/nix';

/** buildgraph's UUIDv5 namespace. Fixed forever: changing it would change every deterministic id. */
export const EVENT_ID_NAMESPACE = '50386eab-8224-4f83-bc35-137f7d0c3728';

const NAMESPACE_BYTES = parseUuid(EVENT_ID_NAMESPACE);
const NAMESPACE = Buffer.from(NAMESPACE_BYTES);
const SURROGATE = /[\ud800-\udfff]/;

/**
 * uuid's v5, spelled out over one native sha1: the same ids, at a third of the cost (a stdenv
 * invalidation makes ~90k of them). Keys with surrogates go through uuid itself, which refuses lone ones.
 */
export function eventId(idempotencyKey: string): string {
  if (SURROGATE.test(idempotencyKey)) return uuidv5(idempotencyKey, NAMESPACE_BYTES);
  const h = createHash('sha1').update(NAMESPACE).update(idempotencyKey, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex', 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
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
