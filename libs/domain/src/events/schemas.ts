/**
 * The data schema of every event type at every version it was ever written at. A version, once
 * released, is never edited: a change adds a version here and an upcaster in upcast.ts.
 */
import {
  Check,
  MAX_LOG_TAIL_BYTES,
  array,
  boolean,
  drvPath,
  id,
  integer,
  isoTime,
  literal,
  machine as machineName,
  object,
  optional,
  outputName,
  realisationKey,
  reason,
  record,
  refine,
  sha256Hex,
  storePath,
  string,
  tagged,
  utf8Bytes,
  uuid,
} from '../check';
import { FAILURE_CACHE, FAILURE_CAUSES, FAILURE_STATUSES } from '../failure/classify';
import { DomainEventType, PoisonScope, SIGNED_BODY_MAX_CHARS } from './types';

/** Same bounds as libs/contracts LIMITS. */
export const MAX_OUTPUTS = 64;
export const MAX_INPUTS = 4096;
export const MAX_GROUP_MEMBERS = 256;
export const MAX_ATERM_BYTES = 768 * 1024;

/** A .drv's text: non-empty, at most MAX_ATERM_BYTES of UTF-8 (commands and events alike). */
export const atermCheck = refine(string({ min: 1 }), (s, field) =>
  utf8Bytes(s) > MAX_ATERM_BYTES
    ? { code: 'INVALID_ARGUMENT', message: `${field}: larger than ${MAX_ATERM_BYTES} bytes`, details: { field } }
    : null,
);

const outputPathOrEmpty: Check<string> = (value, field) =>
  value === '' ? { ok: true, value: '' } : storePath(value, field);
/** `<algo>:<base16>`, what the decider normalises FOD hashes to */
export const hashWithAlgo = string({
  pattern: /^(md5|sha1|sha256|sha512):[0-9a-f]{32,128}$/,
  what: '"<algo>:<base16 digest>"',
});

const outputs = record(outputName, storePath, { min: 1, max: MAX_OUTPUTS });
const inputRealisations = record(realisationKey, storePath, { max: MAX_INPUTS });
const memberAttempt = object({ drvPath, attemptId: id });

const derivationRegisteredV1 = object({
  drvPath,
  name: string({ min: 1, max: 211 }),
  system: string({ min: 1, max: 256 }),
  outputs: record(
    outputName,
    object({ path: outputPathOrEmpty, hashAlgo: string({ max: 64 }), hash: string({ max: 256 }) }),
    {
      min: 1,
      max: MAX_OUTPUTS,
    },
  ),
  inputDrvs: record(drvPath, array(outputName, { min: 1, max: MAX_OUTPUTS, unique: true }), {
    max: MAX_INPUTS,
  }),
  inputSrcs: array(storePath, { max: MAX_INPUTS, unique: true }),
  aterm: atermCheck,
});

export const logCheck = object({
  sha256: sha256Hex,
  bytes: integer(0, Number.MAX_SAFE_INTEGER),
  tail: refine(string(), (s, field) =>
    utf8Bytes(s) > MAX_LOG_TAIL_BYTES
      ? {
          code: 'INVALID_ARGUMENT',
          message: `${field}: longer than ${MAX_LOG_TAIL_BYTES} bytes`,
          details: { field },
        }
      : null,
  ),
});

const attemptFailedV1Shape = {
  drvPath,
  attemptId: id,
  status: literal(FAILURE_STATUSES),
  exitCode: optional(integer(-255, 255)),
  cause: literal(FAILURE_CAUSES),
  transient: boolean,
  log: logCheck,
  finishedAt: isoTime,
};

const attemptFailedV2 = refine(
  object({ ...attemptFailedV1Shape, cache: literal(FAILURE_CACHE) }),
  (d, field) =>
    d.transient !== (d.cache === 'retry')
      ? {
          code: 'INVALID_ARGUMENT',
          message: `${field}.transient: must be true exactly when cache is 'retry'`,
          details: { field: `${field}.transient` },
        }
      : null,
);

const fodVerification = object({
  drvPath,
  attemptId: id,
  outputHash: object({ expected: hashWithAlgo, actual: hashWithAlgo }),
  inputsFingerprint: sha256Hex,
});

const resultPoisonedV1 = object({
  drvPath,
  serial: integer(1, Number.MAX_SAFE_INTEGER),
  reason,
  scope: tagged<PoisonScope>({
    attempt: object({ kind: literal(['attempt'] as const), attemptId: id }),
    outputs: object({
      kind: literal(['outputs'] as const),
      outputPaths: array(storePath, { min: 1, max: MAX_INPUTS, unique: true }),
    }),
  }),
  cause: literal(['operator', 'group-failure'] as const),
  attemptIds: array(id, { min: 1, max: MAX_INPUTS, unique: true }),
  outputPaths: array(storePath, { min: 1, max: MAX_INPUTS, unique: true }),
});

const resultInvalidatedV1 = object({
  drvPath,
  serial: integer(0, Number.MAX_SAFE_INTEGER),
  because: object({ drvPath, outputPath: storePath, rootEventId: uuid }),
  attemptIds: array(id, { min: 1, max: MAX_INPUTS, unique: true }),
  outputPaths: array(storePath, { min: 1, max: MAX_INPUTS, unique: true }),
});

const groupOpenedV1 = refine(
  object({
    groupId: id,
    members: array(object({ drvPath, machine: optional(machineName) }), { min: 1, max: MAX_GROUP_MEMBERS }),
    deadline: isoTime,
  }),
  (d, field) =>
    new Set(d.members.map((m) => m.drvPath)).size !== d.members.length
      ? {
          code: 'INVALID_ARGUMENT',
          message: `${field}.members: a drvPath is listed twice`,
          details: { field: `${field}.members` },
        }
      : null,
);

/** type -> version -> data check. The highest version is the current one (types.ts CURRENT_SCHEMA_VERSION). */
export const DATA_SCHEMAS: Record<DomainEventType, Record<number, Check<unknown>>> = {
  DerivationRegistered: { 1: derivationRegisteredV1 },
  AttemptStarted: {
    1: object({
      drvPath,
      attemptId: id,
      farm: id,
      machine: machineName,
      startedAt: isoTime,
      groupId: optional(id),
    }),
  },
  AttemptSucceeded: {
    1: object({
      drvPath,
      attemptId: id,
      outputs,
      inputRealisations: optional(inputRealisations),
      substituted: optional(boolean),
      finishedAt: isoTime,
    }),
  },
  AttemptFailed: { 1: object(attemptFailedV1Shape), 2: attemptFailedV2 },
  AttemptResolved: { 1: object({ drvPath, attemptId: id, resolvedDrvPath: drvPath, inputRealisations }) },
  ResultPoisoned: { 1: resultPoisonedV1 },
  ResultInvalidated: { 1: resultInvalidatedV1 },
  FailureCleared: { 1: object({ drvPath, attemptId: id, by: string({ min: 1, max: 128 }), reason }) },
  FodVerified: { 1: fodVerification },
  FodMismatch: { 1: fodVerification },
  GroupOpened: { 1: groupOpenedV1 },
  GroupMemberSucceeded: { 1: object({ groupId: id, drvPath, attemptId: id, at: isoTime }) },
  GroupSucceeded: {
    1: object({ groupId: id, members: array(memberAttempt, { min: 1, max: MAX_GROUP_MEMBERS }) }),
  },
  GroupFailed: {
    1: object({
      groupId: id,
      reason: literal(['member-failed', 'deadline'] as const),
      member: optional(memberAttempt),
      detail: reason,
      succeeded: array(memberAttempt, { max: MAX_GROUP_MEMBERS }),
    }),
  },
};

const signer = object({
  keyName: string({ pattern: /^[^:\s]{1,128}$/, what: 'a Nix key name (no ":" or spaces)' }),
  signature: string({ pattern: /^[A-Za-z0-9+/]{1,1024}={0,2}$/, what: 'base64' }),
  body: optional(string({ max: SIGNED_BODY_MAX_CHARS })),
});

export const metadataCheck = object({
  schemaVersion: integer(1, 1_000_000),
  correlationId: id,
  causationId: id,
  signer: optional(signer),
  recordedAt: isoTime,
});
