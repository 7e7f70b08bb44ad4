/**
 * What every command carries besides its data. Time and ids come in here, never from the clock or a
 * random source inside the core, so deciding is a pure function and replays are exact.
 */
import { Check, id, isoTime, object, optional, string } from './check';
import {
  CURRENT_SCHEMA_VERSION,
  DomainEvent,
  DomainEventType,
  EventMetadata,
  EventOfType,
  Signer,
  SIGNED_BODY_MAX_CHARS,
} from './events/types';
import { eventId } from './ids';
import { Result } from './result';

export interface CommandMetadata {
  /** unique per command; a retry of the same command reuses it */
  commandId: string;
  /** defaults to commandId: a command that starts a conversation correlates with itself */
  correlationId?: string;
  /** defaults to commandId; a policy sets it to the event that triggered it */
  causationId?: string;
  signer?: Signer;
  /** when the service received the command (ISO, UTC) */
  recordedAt: string;
}

export interface Command<T extends string, D> {
  type: T;
  data: D;
  metadata: CommandMetadata;
}

export const commandMetadataCheck = object({
  commandId: id,
  correlationId: optional(id),
  causationId: optional(id),
  signer: optional(
    object({
      keyName: string({ pattern: /^[^:\s]{1,128}$/, what: 'a Nix key name (no ":" or spaces)' }),
      signature: string({ pattern: /^[A-Za-z0-9+/]{1,1024}={0,2}$/, what: 'base64' }),
      body: optional(string({ max: SIGNED_BODY_MAX_CHARS })),
    }),
  ),
  recordedAt: isoTime,
}) as Check<CommandMetadata>;

/** What a decider returns when the command is accepted. */
export interface Decision<E extends DomainEvent = DomainEvent> {
  /** to append, in order; empty for a repeat or a no-op */
  events: E[];
  /** an identical repeat: the event that already records this fact (answer the retry with its position) */
  duplicateOf?: DomainEvent;
  /** why nothing was appended, when it is a documented no-op rather than a repeat */
  noop?: string;
}

export type Decided<E extends DomainEvent = DomainEvent> = Result<Decision<E>>;

/** Builds an event with its deterministic id and the metadata the command brought. */
export function makeEvent<T extends DomainEventType>(
  type: T,
  data: EventOfType<T>['data'],
  idempotencyKey: string,
  meta: CommandMetadata,
): EventOfType<T> {
  const metadata: EventMetadata = {
    schemaVersion: CURRENT_SCHEMA_VERSION[type],
    correlationId: meta.correlationId ?? meta.commandId,
    causationId: meta.causationId ?? meta.commandId,
    recordedAt: meta.recordedAt,
  };
  if (meta.signer) metadata.signer = meta.signer;
  return { id: eventId(idempotencyKey), type, data, metadata } as EventOfType<T>;
}
