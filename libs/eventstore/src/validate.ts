import { EventStoreError } from './errors';
import type { EventData, EventFilter, ExpectedRevision, ReadAllOptions, ReadStreamOptions, StreamAppend } from './port';
import { assertStreamName, assertStreamPrefixes } from './stream-names';

/** Checks shared by every adapter, so bad input fails the same way everywhere and stores nothing. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

/** An event checked and serialised once, before it reaches a transaction. */
export interface PreparedEvent {
  id: string;
  type: string;
  data: string;
  metadata: string;
}

export interface PreparedAppend {
  stream: string;
  events: PreparedEvent[];
  expected: ExpectedRevision;
}

function toJson(value: unknown, what: string, index: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new EventStoreError('INVALID_EVENT', `event ${index}: ${what} is not JSON-serialisable (${(err as Error).message})`, { index });
  }
  if (typeof json !== 'string') {
    throw new EventStoreError('INVALID_EVENT', `event ${index}: ${what} is not JSON-serialisable (${typeof value})`, { index });
  }
  return json;
}

export function assertExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no-stream') return;
  if (typeof expected === 'bigint' && expected >= 0n) return;
  throw new EventStoreError('INVALID_ARGUMENT', `expected revision must be 'any', 'no-stream' or a bigint >= 0n, got ${String(expected)}`);
}

/**
 * `metadataJson`: serialisations already made in this call, by object: a policy that writes thousands
 * of events with one shared metadata object serialises it once (the object is not changed meanwhile).
 */
export function prepareAppend(stream: unknown, events: unknown, expected: unknown, metadataJson?: Map<object, string>): PreparedAppend {
  assertStreamName(stream);
  assertExpectedRevision(expected);
  if (!Array.isArray(events) || events.length === 0) {
    throw new EventStoreError('INVALID_ARGUMENT', 'append needs a non-empty array of events', { stream });
  }
  const seen = new Set<string>();
  const prepared = events.map((e: Partial<EventData> | null, index): PreparedEvent => {
    if (e === null || typeof e !== 'object') throw new EventStoreError('INVALID_EVENT', `event ${index} is not an object`, { index });
    if (typeof e.id !== 'string' || !UUID.test(e.id)) {
      throw new EventStoreError('INVALID_EVENT', `event ${index}: id must be a UUID, got ${JSON.stringify(String(e.id)).slice(0, 60)}`, { index });
    }
    const id = e.id.toLowerCase();
    if (seen.has(id)) throw new EventStoreError('INVALID_EVENT', `event ${index}: id ${id} appears twice in one append`, { index, id });
    seen.add(id);
    if (typeof e.type !== 'string' || !EVENT_TYPE.test(e.type)) {
      throw new EventStoreError('INVALID_EVENT', `event ${index}: type must match [A-Za-z][A-Za-z0-9_.-]{0,99}`, { index, type: String(e.type).slice(0, 100) });
    }
    const metadata = e.metadata;
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new EventStoreError('INVALID_EVENT', `event ${index}: metadata must be a JSON object`, { index });
    }
    let metadataText = metadataJson?.get(metadata);
    if (metadataText === undefined) {
      metadataText = toJson(metadata, 'metadata', index);
      metadataJson?.set(metadata, metadataText);
    }
    return { id, type: e.type, data: toJson(e.data, 'data', index), metadata: metadataText };
  });
  return { stream, events: prepared, expected };
}

/** Every append of an `appendMany`, checked and serialised; the first bad one names its index. */
export function prepareAppends(appends: unknown): PreparedAppend[] {
  if (!Array.isArray(appends)) throw new EventStoreError('INVALID_ARGUMENT', 'appendMany needs an array of appends');
  const metadataJson = new Map<object, string>();
  return appends.map((a: Partial<StreamAppend> | null, index) => {
    if (a === null || typeof a !== 'object') throw new EventStoreError('INVALID_ARGUMENT', `append ${index} is not an object`, { index });
    try {
      return prepareAppend(a.stream, a.events, a.expected, metadataJson);
    } catch (err) {
      if (err instanceof EventStoreError) {
        throw new EventStoreError(err.code, `append ${index}: ${err.message}`, { ...err.details, append: index }, { cause: err });
      }
      throw err;
    }
  });
}

export function checkReadStream(stream: unknown, opts: ReadStreamOptions = {}): { fromRevision: bigint; maxCount: number } {
  assertStreamName(stream);
  const fromRevision = opts.fromRevision ?? 0n;
  if (typeof fromRevision !== 'bigint' || fromRevision < 0n) {
    throw new EventStoreError('INVALID_ARGUMENT', 'fromRevision must be a bigint >= 0n');
  }
  const maxCount = opts.maxCount ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) throw new EventStoreError('INVALID_ARGUMENT', 'maxCount must be an integer >= 0');
  return { fromRevision, maxCount };
}

export function checkFilter(filter: EventFilter | undefined): EventFilter | undefined {
  if (filter === undefined) return undefined;
  if (filter.streamPrefixes !== undefined) assertStreamPrefixes(filter.streamPrefixes);
  if (filter.eventTypes !== undefined) {
    if (!Array.isArray(filter.eventTypes) || !filter.eventTypes.every((t) => typeof t === 'string' && EVENT_TYPE.test(t))) {
      throw new EventStoreError('INVALID_ARGUMENT', 'filter.eventTypes must be event type names');
    }
  }
  return filter;
}

export function checkReadAll(opts: ReadAllOptions = {}): { from: bigint; to: bigint | undefined; filter: EventFilter | undefined; batchSize: number } {
  const from = opts.from ?? 0n;
  if (typeof from !== 'bigint' || from < 0n) throw new EventStoreError('INVALID_ARGUMENT', 'from must be a position (bigint >= 0n)');
  if (opts.to !== undefined && (typeof opts.to !== 'bigint' || opts.to < 0n)) {
    throw new EventStoreError('INVALID_ARGUMENT', 'to must be a position (bigint >= 0n)');
  }
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new EventStoreError('INVALID_ARGUMENT', 'batchSize must be an integer >= 1');
  return { from, to: opts.to, filter: checkFilter(opts.filter), batchSize };
}

/** The client-side form of a filter, for adapters that cannot push all of it to the server. */
export function matchesFilter(filter: EventFilter | undefined, stream: string, type: string): boolean {
  if (!filter) return true;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((p) => stream.startsWith(p))) return false;
  if (filter.eventTypes && !filter.eventTypes.includes(type)) return false;
  return true;
}
