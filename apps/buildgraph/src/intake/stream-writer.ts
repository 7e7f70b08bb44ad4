import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore, isEventStoreError } from '@buildgraph/eventstore';
import { DomainError, DomainEvent, fromStored, withoutSignedBody } from '@buildgraph/domain';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';

/** A stream read back and folded: the state, the revision to expect, and each event's position by id. */
export interface Loaded<S> {
  state: S;
  revision: bigint | 'no-stream';
  positions: Map<string, bigint>;
}

/** What one decision did: the events it appended (or the one that already recorded it) and their positions. */
export interface Written {
  stream: string;
  events: { id: string; type: string; position: string }[];
  /** true when nothing new was appended (an identical retry or a no-op) */
  repeat: boolean;
}

/**
 * `duplicates`: every event that already records this command or part of it (a retry is answered with
 * all of them; they come first in the reply, before the events appended now).
 */
export type Decide<S> = (state: S) => { ok: true; events: DomainEvent[]; duplicates?: DomainEvent[] } | { ok: false; error: DomainError };

export class DecisionRefused extends Error {
  constructor(readonly error: DomainError) {
    super(error.message);
  }
}

const MAX_CONFLICT_RETRIES = 5;

/** A domain event as the store takes it; the store's JSON.stringify is the one serialisation. */
function stored(e: DomainEvent): { id: string; type: string; data: unknown; metadata: Record<string, unknown> } {
  return { id: e.id, type: e.type, data: e.data, metadata: e.metadata as unknown as Record<string, unknown> };
}

/**
 * The signed request body is stored once per append, on its first event (auditors find it there by
 * causationId), and never kept in folded state: decisions do not need it, and a log-sized body per
 * cached stream would add up.
 */
function withoutBody(e: DomainEvent): DomainEvent {
  const metadata = withoutSignedBody(e.metadata);
  return metadata === e.metadata ? e : ({ ...e, metadata } as DomainEvent);
}

/** Streams whose folded state is kept in memory; the least recently used beyond this are dropped. */
const CACHED_STREAMS = 20000;

/**
 * Load → decide → append with optimistic concurrency. Folded stream states are cached, so a command
 * reads only the events appended since (usually none), not its whole stream; an append that still
 * meets a newer revision (a race with another replica) catches up and decides again. Commands for
 * the same stream are queued in-process, so one replica never races itself.
 */
@Injectable()
export class StreamWriter {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly cache = new Map<string, Loaded<unknown>>();

  /** SQLite numbers one append's events consecutively; EventStoreDB positions are not dense */
  private readonly densePositions: boolean;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) config: ServiceConfig,
    private readonly metrics: MetricsService,
  ) {
    this.densePositions = config.BUILDGRAPH_STORE.startsWith('sqlite:');
  }

  /** Folds events after `base` (or the whole stream) read from the store. */
  private async catchUp<S>(stream: string, base: Loaded<S> | undefined, initial: () => S, evolve: (s: S, e: DomainEvent) => S): Promise<Loaded<S>> {
    const fromRevision = base && base.revision !== 'no-stream' ? base.revision + 1n : 0n;
    const recorded = await this.store.readStream(stream, { fromRevision });
    let state = base ? base.state : initial();
    const positions = base ? base.positions : new Map<string, bigint>();
    let revision = base ? base.revision : 'no-stream';
    for (const r of recorded) {
      state = evolve(state, withoutBody(fromStored(r)));
      positions.set(r.id, r.position);
      revision = r.revision;
    }
    return { state, revision, positions };
  }

  /** The stream's current state, read from the store (not the cache): for queries and cross-stream checks. */
  load<S>(stream: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S): Promise<Loaded<S>> {
    return this.catchUp(stream, undefined, initial, evolve);
  }

  /** Runs `decide` against the stream's current state and appends its events; throws DecisionRefused. */
  write<S>(stream: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S, decide: Decide<S>): Promise<Written> {
    const previous = this.queues.get(stream) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.writeNow(stream, initial, evolve, decide));
    this.queues.set(stream, run);
    void run
      .finally(() => {
        if (this.queues.get(stream) === run) this.queues.delete(stream);
      })
      .catch(() => undefined);
    return run;
  }

  private remember<S>(stream: string, loaded: Loaded<S>): void {
    this.cache.delete(stream);
    this.cache.set(stream, loaded as Loaded<unknown>);
    if (this.cache.size > CACHED_STREAMS) this.cache.delete(this.cache.keys().next().value as string);
  }

  private async writeNow<S>(stream: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S, decide: Decide<S>): Promise<Written> {
    // the cache saves re-folding the stream; a read from the cached revision on still picks up what
    // other replicas and the policies appended since (an append of the same deterministic ids would
    // be taken by the store as a retry, so the expected-revision check alone cannot catch that)
    let loaded = await this.catchUp(stream, this.cache.get(stream) as Loaded<S> | undefined, initial, evolve);
    for (let attempt = 0; ; attempt++) {
      const decision = decide(loaded.state);
      if (!decision.ok) {
        this.remember(stream, loaded);
        throw new DecisionRefused(decision.error);
      }
      // events that already record part of this command (a registration sent again with an attempt)
      const known = (decision.duplicates ?? [])
        .filter((d) => loaded.positions.has(d.id))
        .map((d) => ({ id: d.id, type: d.type, position: String(loaded.positions.get(d.id)) }));
      if (decision.events.length === 0) {
        this.remember(stream, loaded);
        return { stream, repeat: true, events: known };
      }
      const started = process.hrtime.bigint();
      try {
        // the events go as they are: the store serialises each body once (JSON drops undefined fields)
        const result = await this.store.append(
          stream,
          decision.events.map((e, i) => stored(i === 0 ? e : withoutBody(e))),
          loaded.revision,
        );
        this.metrics.appendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        const events = await this.positionsOf(stream, decision.events, result.nextRevision, result.position);
        const state = decision.events.map(withoutBody).reduce(evolve, loaded.state);
        events.forEach((e) => loaded.positions.set(e.id, BigInt(e.position)));
        this.remember(stream, { state, revision: result.nextRevision, positions: loaded.positions });
        return { stream, repeat: false, events: [...known, ...events] };
      } catch (e) {
        this.cache.delete(stream);
        if (isEventStoreError(e, 'WRONG_EXPECTED_REVISION') && attempt < MAX_CONFLICT_RETRIES) {
          loaded = await this.catchUp(stream, loaded, initial, evolve);
          continue;
        }
        throw e;
      }
    }
  }

  /** Exact positions: the append result names the last one; earlier ones follow from it on SQLite, else are read back. */
  private async positionsOf(stream: string, events: DomainEvent[], nextRevision: bigint, last: bigint): Promise<Written['events']> {
    if (events.length === 1 || this.densePositions) {
      return events.map((e, i) => ({ id: e.id, type: e.type, position: (last - BigInt(events.length - 1 - i)).toString() }));
    }
    const fromRevision = nextRevision - BigInt(events.length) + 1n;
    const recorded = await this.store.readStream(stream, { fromRevision, maxCount: events.length });
    const byId = new Map(recorded.map((r) => [r.id, r.position]));
    return events.map((e) => ({ id: e.id, type: e.type, position: (byId.get(e.id) ?? last).toString() }));
  }
}
