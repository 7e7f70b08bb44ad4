/**
 * The event store port: the one interface projections, policies and command handlers use.
 * Every adapter (SQLite embedded, EventStoreDB) passes the same contract suite
 * (test/eventstore/contract.ts). Semantics are spelled out here because others build on them;
 * docs/eventstore.md says why they are so.
 */

import type { EventStoreError } from './errors';

/**
 * A place in the global log ($all), totally ordered across streams. 0n means "before the first
 * event", so `readAll({ from: 0n })` reads everything. SQLite: the global sequence (1, 2, 3, ...).
 * EventStoreDB: the event's commit position (equal to its prepare position for every gRPC append).
 * Positions are comparable only within one store; they are not dense on EventStoreDB.
 */
export type Position = bigint;

/** The start of the log: nothing is at or before it. */
export const START: Position = 0n;

/**
 * What the caller believes the stream looks like, as in EventStoreDB: 'any' (no check),
 * 'no-stream' (the stream has no events), or the exact 0-based revision of its last event.
 */
export type ExpectedRevision = 'any' | 'no-stream' | bigint;

export interface EventData {
  /** A UUID. Stored lowercased. Re-appending an id that is already stored is a no-op (idempotent retry). */
  id: string;
  /** `[A-Za-z][A-Za-z0-9_.-]{0,99}`; `$` is reserved by EventStoreDB for its own events. */
  type: string;
  /** Anything JSON.stringify accepts (no bigint, no cycles); stored and returned as JSON. */
  data: unknown;
  /** A plain JSON object (schema version, correlation/causation ids, signer, recordedAt, ...). */
  metadata: Record<string, unknown>;
}

export interface RecordedEvent extends EventData {
  stream: string;
  /** 0-based position of the event in its stream. */
  revision: bigint;
  position: Position;
}

export interface AppendResult {
  /** The revision of the last event now in the stream: pass it as `expected` on the next append. */
  nextRevision: bigint;
  /** The global position of the last event of this append (of the original append, on a retry). */
  position: Position;
}

/** One stream's part of a multi-stream append (`appendMany`). */
export interface StreamAppend {
  stream: string;
  events: EventData[];
  expected: ExpectedRevision;
}

/** What one append of an `appendMany` came to: its result, or the error it alone failed with. */
export type AppendOutcome = AppendResult | EventStoreError;

export interface EventFilter {
  /** Keep events whose stream name starts with any of these (e.g. 'drv-', 'group-'). */
  streamPrefixes?: string[];
  /** Keep events whose type is exactly one of these. */
  eventTypes?: string[];
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Default 0n. */
  fromRevision?: bigint;
  /** At most this many events. Default: all. */
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Default START (everything). */
  from?: Position;
  /** Inclusive: stop after this position. Default: the head at the time each batch is read. */
  to?: Position;
  filter?: EventFilter;
  /** Events per yielded batch (default 1000). */
  batchSize?: number;
}

export interface SubscribeOptions {
  /** Exclusive, as in readAll: the position of the last event the subscriber has already applied. */
  from?: Position;
  filter?: EventFilter;
  /** Events per delivered batch during catch-up (default 1000). */
  batchSize?: number;
}

/**
 * A running subscription. Batches are delivered one at a time, in position order: the next one
 * is not delivered until the handler's promise settles. No gaps, no duplicates.
 */
export interface Subscription {
  /** Stops delivery; resolves once no handler call is running. */
  close(): Promise<void>;
  /**
   * Settles when the subscription ends: resolves after close(), rejects with the error if the
   * handler threw or the store failed. Observe it to learn about failures.
   */
  readonly done: Promise<void>;
  /**
   * How far the log has been handled: the last delivered event once its handler settled, or
   * further when the events after it did not match the filter. A valid checkpoint to resume `from`.
   */
  readonly position: Position;
}

export type EventsHandler = (batch: RecordedEvent[]) => Promise<void> | void;

export interface EventStore {
  /**
   * Appends events to one stream atomically, after checking `expected`. Resolves only once the
   * events are durable. Fails with WrongExpectedRevisionError on a conflict. If every event's id
   * is already stored (a retry), nothing is written and the original result is returned.
   */
  append(stream: string, events: EventData[], expected: ExpectedRevision): Promise<AppendResult>;
  /**
   * Many appends, each to its own stream, in array order: each is checked and idempotent exactly as
   * `append` (a conflict or a partly stored retry fails that append alone: its error takes its place
   * in the answer), and the global log keeps the array order. Not atomic as a whole: SQLite commits
   * them in a few large transactions, EventStoreDB one append after another. Resolves once every
   * append is durable; bad input anywhere rejects the call before anything is stored. For policies
   * that state one fact on each of thousands of streams (a stdenv invalidation: ~90k).
   */
  appendMany(appends: readonly StreamAppend[]): Promise<AppendOutcome[]>;
  /** Events of one stream in revision order; [] for a stream that does not exist. */
  readStream(stream: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** The global log in position order, in batches (for replay speed). */
  readAll(opts?: ReadAllOptions): AsyncIterable<RecordedEvent[]>;
  /** Catch up from `from`, then follow live appends. */
  subscribe(opts: SubscribeOptions, onEvents: EventsHandler): Subscription;
  /** Position of the last event in the log (START if empty). */
  headPosition(): Promise<Position>;
  /** Stops subscriptions and releases the store; later calls fail with STORE_CLOSED. */
  close(): Promise<void>;
}

/** Nest (or any container) injection token for the EventStore. */
export const EVENT_STORE = 'buildgraph.EventStore';
