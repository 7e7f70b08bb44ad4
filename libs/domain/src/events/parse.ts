/**
 * The edge of the domain: every event, whether a decider just produced it or it was read back from the
 * store, goes through here. Unknown types, missing or unknown fields and malformed store paths are refused
 * with INVALID_ARGUMENT naming the field; old schema versions are upcast.
 */
import { metadataCheck, DATA_SCHEMAS } from './schemas';
import { UPCASTERS } from './upcast';
import { CURRENT_SCHEMA_VERSION, DomainEvent, DomainEventType, EventMetadata } from './types';
import { uuid } from '../check';
import { DomainException, Result, fail, invalid, ok } from '../result';

/** What every event store adapter holds. */
export interface StoredEvent {
  id: string;
  type: string;
  data: unknown;
  metadata: unknown;
}

export function isDomainEventType(type: string): type is DomainEventType {
  return Object.prototype.hasOwnProperty.call(CURRENT_SCHEMA_VERSION, type);
}

/**
 * Validates `data` against the schema of `type` at `metadata.schemaVersion` and upcasts it to the current
 * version (the returned metadata carries the current version). No id: see `parseStored`.
 */
export function parseEvent(type: string, data: unknown, metadata: unknown): Result<Omit<DomainEvent, 'id'>> {
  if (typeof type !== 'string' || !isDomainEventType(type)) {
    return fail('INVALID_ARGUMENT', `type: unknown event type ${JSON.stringify(type)}`, {
      field: 'type',
      type,
    });
  }
  const meta = metadataCheck(metadata, 'metadata');
  if (!meta.ok) return meta;
  const version = meta.value.schemaVersion;
  const schema = DATA_SCHEMAS[type][version];
  if (!schema) {
    return invalid(
      'metadata.schemaVersion',
      `${type} has no schema version ${version} (current is ${CURRENT_SCHEMA_VERSION[type]})`,
      {
        type,
      },
    );
  }
  const checked = schema(data, 'data');
  if (!checked.ok)
    return { ok: false, error: { ...checked.error, details: { ...checked.error.details, type } } };
  let value = checked.value as Record<string, unknown>;
  for (let v = version; v < CURRENT_SCHEMA_VERSION[type]; v++) {
    const up = UPCASTERS[type]?.[v];
    if (!up)
      return fail('INVALID_ARGUMENT', `${type}: no upcaster from schema version ${v}`, {
        type,
        field: 'metadata.schemaVersion',
      });
    value = up(value);
  }
  const metadataOut: EventMetadata = {
    ...(meta.value as EventMetadata),
    schemaVersion: CURRENT_SCHEMA_VERSION[type],
  };
  return ok({ type, data: value, metadata: metadataOut } as Omit<DomainEvent, 'id'>);
}

/** parseEvent plus the id: the whole event, at the current schema version. */
export function parseStored(recorded: StoredEvent): Result<DomainEvent> {
  if (typeof recorded !== 'object' || recorded === null) return invalid('event', 'expected an object');
  const idCheck = uuid(recorded.id, 'id');
  if (!idCheck.ok) return idCheck;
  const parsed = parseEvent(recorded.type, recorded.data, recorded.metadata);
  if (!parsed.ok) return parsed;
  return ok({ id: idCheck.value, ...parsed.value } as DomainEvent);
}

/** Validates an event built in memory (a decider's output) before it is appended. */
export function validateEvent(event: DomainEvent): Result<DomainEvent> {
  return parseStored(event);
}

/** Plain JSON-safe data for an event store adapter (undefined fields dropped, key order kept). */
export function toStored(
  event: DomainEvent,
): StoredEvent & { data: Record<string, unknown>; metadata: Record<string, unknown> } {
  return {
    id: event.id,
    type: event.type,
    data: JSON.parse(JSON.stringify(event.data)) as Record<string, unknown>,
    metadata: JSON.parse(JSON.stringify(event.metadata)) as Record<string, unknown>,
  };
}

/**
 * An event read back from the store, upcast. The log only ever holds validated events, so a failure here
 * means a corrupt or foreign log: it throws DomainException (code INVALID_ARGUMENT) rather than pass bad data on.
 */
export function fromStored(recorded: StoredEvent): DomainEvent {
  const r = parseStored(recorded);
  if (!r.ok) {
    throw new DomainException({
      ...r.error,
      message: `stored event ${String(recorded?.id)}: ${r.error.message}`,
    });
  }
  return r.value;
}
