/**
 * The events of buildgraph, as plain data. They are the source of truth (DESIGN.md "Events"): read models,
 * policies and auditors all consume these types, so a field once written is never renamed; a change is a
 * new schema version with an upcaster (see upcast.ts).
 */
import type { FailureCause, FailureCache, FailureStatus } from '../failure/classify';

/** A signed request body is at most the wire's request limit (1 MiB), so at most as many UTF-16 units. */
export const SIGNED_BODY_MAX_CHARS = 1024 * 1024;

export interface Signer {
  /** Nix key name, the part before ':' in `name:base64` */
  keyName: string;
  /** base64 ed25519 signature of the command, as the service verified it */
  signature: string;
  /**
   * The exact signed request body, so an auditor can verify the signature offline. The service keeps
   * it on the first event of each append of a command; later events of the same command share its
   * causationId and are verified against it (docs/domain.md "Signatures").
   */
  body?: string;
}

/**
 * Metadata without the signed request body (who signed stays): for folded state, notifications and
 * query replies, where a log-sized body per event is dead weight. The same object when it has none.
 */
export function withoutSignedBody<M extends { signer?: { body?: unknown } }>(metadata: M): M {
  if (metadata.signer?.body === undefined) return metadata;
  const { body: _body, ...signer } = metadata.signer;
  return { ...metadata, signer };
}

export interface EventMetadata {
  /** version of this event type's data schema when it was written */
  schemaVersion: number;
  correlationId: string;
  /** the command (or event, for policies) that produced this event */
  causationId: string;
  signer?: Signer;
  /** ISO time the command was received, from the command's metadata */
  recordedAt: string;
}

export interface Event<T extends string, D> {
  /** UUIDv5 of an idempotency key (ids.ts), so a retried append is a no-op in every store */
  id: string;
  type: T;
  data: D;
  metadata: EventMetadata;
}

/** One output as the .drv records it: Nix's raw triple, path "" where Nix leaves it empty (floating CA, deferred). */
export interface RegisteredOutput {
  path: string;
  hashAlgo: string;
  hash: string;
}

/** `{"<drvPath>^<output>": storePath}`: what an attempt actually consumed. */
export type InputRealisations = Record<string, string>;

export type DerivationRegistered = Event<
  'DerivationRegistered',
  {
    drvPath: string;
    name: string;
    system: string;
    outputs: Record<string, RegisteredOutput>;
    inputDrvs: Record<string, string[]>;
    inputSrcs: string[];
    /** the .drv text, canonical (it hashes to drvPath) */
    aterm: string;
  }
>;

export type AttemptStarted = Event<
  'AttemptStarted',
  { drvPath: string; attemptId: string; farm: string; machine: string; startedAt: string; groupId?: string }
>;

export type AttemptSucceeded = Event<
  'AttemptSucceeded',
  {
    drvPath: string;
    attemptId: string;
    outputs: Record<string, string>;
    /** absent when the farm did not report what it consumed: the invalidation policy falls back to graph edges */
    inputRealisations?: InputRealisations;
    substituted?: boolean;
    finishedAt: string;
  }
>;

export interface BuildLog {
  /** sha256 (hex) of the whole log, which the service keeps content-addressed */
  sha256: string;
  bytes: number;
  /** the last few KiB, UTF-8 */
  tail: string;
}

export type AttemptFailed = Event<
  'AttemptFailed',
  {
    drvPath: string;
    attemptId: string;
    status: FailureStatus;
    exitCode?: number;
    cause: FailureCause;
    transient: boolean;
    /** schema v2: what the negative cache does with it (v1 events are upcast from the status) */
    cache: FailureCache;
    log: BuildLog;
    finishedAt: string;
  }
>;

export type AttemptResolved = Event<
  'AttemptResolved',
  { drvPath: string; attemptId: string; resolvedDrvPath: string; inputRealisations: InputRealisations }
>;

export type PoisonScope = { kind: 'attempt'; attemptId: string } | { kind: 'outputs'; outputPaths: string[] };

export type ResultPoisoned = Event<
  'ResultPoisoned',
  {
    drvPath: string;
    /** the new serial: one more than before */
    serial: number;
    reason: string;
    scope: PoisonScope;
    cause: 'operator' | 'group-failure';
    /** the successful attempts whose results this cancels */
    attemptIds: string[];
    /** every output path of those attempts: what subscribers must stop trusting */
    outputPaths: string[];
  }
>;

export type ResultInvalidated = Event<
  'ResultInvalidated',
  {
    drvPath: string;
    /** the drv's serial when its results were invalidated (invalidation does not bump it) */
    serial: number;
    because: { drvPath: string; outputPath: string; rootEventId: string };
    attemptIds: string[];
    outputPaths: string[];
  }
>;

export type FailureCleared = Event<
  'FailureCleared',
  { drvPath: string; attemptId: string; by: string; reason: string }
>;

export interface FodVerification {
  drvPath: string;
  attemptId: string;
  /** `<algo>:<base16>` */
  outputHash: { expected: string; actual: string };
  /** sha256 hex of the "unfixed" twin of the FOD: what its fetcher consumed */
  inputsFingerprint: string;
}
export type FodVerified = Event<'FodVerified', FodVerification>;
export type FodMismatch = Event<'FodMismatch', FodVerification>;

export type DrvEvent =
  | DerivationRegistered
  | AttemptStarted
  | AttemptSucceeded
  | AttemptFailed
  | AttemptResolved
  | ResultPoisoned
  | ResultInvalidated
  | FailureCleared
  | FodVerified
  | FodMismatch;

export interface GroupMember {
  drvPath: string;
  machine?: string;
}
export interface MemberAttempt {
  drvPath: string;
  attemptId: string;
}

export type GroupOpened = Event<'GroupOpened', { groupId: string; members: GroupMember[]; deadline: string }>;
/** Not in DESIGN.md's first list: without it the group could not know when *all* members are valid. */
export type GroupMemberSucceeded = Event<
  'GroupMemberSucceeded',
  { groupId: string; drvPath: string; attemptId: string; at: string }
>;
export type GroupSucceeded = Event<'GroupSucceeded', { groupId: string; members: MemberAttempt[] }>;
export type GroupFailed = Event<
  'GroupFailed',
  {
    groupId: string;
    reason: 'member-failed' | 'deadline';
    /** the member whose failure decided it (absent for a missed deadline with no late member) */
    member?: MemberAttempt;
    detail: string;
    /** members that had succeeded: the group policy poisons these */
    succeeded: MemberAttempt[];
  }
>;

export type GroupEvent = GroupOpened | GroupMemberSucceeded | GroupSucceeded | GroupFailed;

export type DomainEvent = DrvEvent | GroupEvent;
export type DomainEventType = DomainEvent['type'];
export type EventOfType<T extends DomainEventType> = Extract<DomainEvent, { type: T }>;

export const DRV_EVENT_TYPES = [
  'DerivationRegistered',
  'AttemptStarted',
  'AttemptSucceeded',
  'AttemptFailed',
  'AttemptResolved',
  'ResultPoisoned',
  'ResultInvalidated',
  'FailureCleared',
  'FodVerified',
  'FodMismatch',
] as const satisfies readonly DrvEvent['type'][];

export const GROUP_EVENT_TYPES = [
  'GroupOpened',
  'GroupMemberSucceeded',
  'GroupSucceeded',
  'GroupFailed',
] as const satisfies readonly GroupEvent['type'][];

/** The schema version each event type is written at today. */
export const CURRENT_SCHEMA_VERSION: Record<DomainEventType, number> = {
  DerivationRegistered: 1,
  AttemptStarted: 1,
  AttemptSucceeded: 1,
  AttemptFailed: 2,
  AttemptResolved: 1,
  ResultPoisoned: 1,
  ResultInvalidated: 1,
  FailureCleared: 1,
  FodVerified: 1,
  FodMismatch: 1,
  GroupOpened: 1,
  GroupMemberSucceeded: 1,
  GroupSucceeded: 1,
  GroupFailed: 1,
};
