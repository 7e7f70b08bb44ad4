/**
 * Event ids are UUIDv5 of an idempotency key, so appending the same fact twice (a retried command, two
 * policy replicas) writes the same id, which every event store adapter treats as a no-op.
 */
import { hash } from 'node:crypto';
import { parse as parseUuid, v5 as uuidv5 } from 'uuid';
import { parseStorePath } from '@buildgraph/nix';

/** buildgraph's UUIDv5 namespace. Fixed forever: changing it would change every deterministic id. */
export const EVENT_ID_NAMESPACE = '50386eab-8224-4f83-bc35-137f7d0c3728';

const NAMESPACE_BYTES = parseUuid(EVENT_ID_NAMESPACE);
const NAMESPACE = Buffer.from(NAMESPACE_BYTES);
const SURROGATE = /[\ud800-\udfff]/;

/** the namespace's bytes, then the key's UTF-8 (rewritten in place for each id; grown as needed) */
let scratch = Buffer.allocUnsafe(512);
NAMESPACE.copy(scratch);
const VARIANT = '89ab';

/**
 * uuid's v5, spelled out over one native one-shot sha1 of a reused buffer: the same ids, at a fraction
 * of the cost (a stdenv invalidation makes ~90k of them). Keys with surrogates go through uuid itself,
 * which refuses lone ones.
 */
export function eventId(idempotencyKey: string): string {
  if (SURROGATE.test(idempotencyKey)) return uuidv5(idempotencyKey, NAMESPACE_BYTES);
  if (16 + idempotencyKey.length * 3 > scratch.length) {
    scratch = Buffer.allocUnsafe(2 * (16 + idempotencyKey.length * 3));
    NAMESPACE.copy(scratch);
  }
  const end = 16 + scratch.write(idempotencyKey, 16, 'utf8');
  const x = hash('sha1', scratch.subarray(0, end), 'hex');
  // version 5 in the high nibble of byte 6, variant 10xx in the high bits of byte 8
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-5${x.slice(13, 16)}-${VARIANT[parseInt(x[16], 16) & 3]}${x.slice(17, 20)}-${x.slice(20, 32)}`;
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
