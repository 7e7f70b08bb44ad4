import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore, isEventStoreError, RecordedEvent } from '@buildgraph/eventstore';
import { DomainError, DomainEvent, fromStored, toStored } from '@buildgraph/domain';
import { MetricsService } from '../metrics/metrics.service';

/** A stream read back and folded: the state, the revision to expect, and each event's position by id. */
export interface Loaded<S> {
  state: S;
  revision: bigint | 'no-stream';
  positions: Map<string, bigint>;
  events: DomainEvent[];
}

/** What one decision did: the events it appended (or the one that already recorded it) and their positions. */
export interface Written {
  stream: string;
  events: { id: string; type: string; position: string }[];
  /** true when nothing new was appended (an identical retry or a no-op) */
  repeat: boolean;
}

export type Decide<S> = (state: S) => { ok: true; events: DomainEvent[]; duplicateOf?: DomainEvent } | { ok: false; error: DomainError };

export class DecisionRefused extends Error {
  constructor(readonly error: DomainError) {
    super(error.message);
  }
}

const MAX_CONFLICT_RETRIES = 5;

/**
 * Load → decide → append with optimistic concurrency, retried on a conflict. Commands for the same
 * stream are also queued in-process, so one replica never races itself.
 */
@Injectable()
export class StreamWriter {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly metrics: MetricsService,
  ) {}

  async load<S>(stream: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S): Promise<Loaded<S>> {
    const recorded = await this.store.readStream(stream);
    let state = initial();
    const positions = new Map<string, bigint>();
    const events: DomainEvent[] = [];
    for (const r of recorded) {
      const e = fromStored(r);
      state = evolve(state, e);
      positions.set(r.id, r.position);
      events.push(e);
    }
    const last = recorded[recorded.length - 1] as RecordedEvent | undefined;
    return { state, revision: last ? last.revision : 'no-stream', positions, events };
  }

  /** Runs `decide` against the stream's current state and appends its events; throws DecisionRefused. */
  write<S>(stream: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S, decide: Decide<S>): Promise<Written> {
    const previous = this.queues.get(stream) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.writeNow(stream, initial, evolve, decide));
    this.queues.set(stream, run);
    void run.finally(() => {
      if (this.queues.get(stream) === run) this.queues.delete(stream);
    }).catch(() => undefined);
    return run;
  }

  private async writeNow<S>(stream: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S, decide: Decide<S>): Promise<Written> {
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.load(stream, initial, evolve);
      const decision = decide(loaded.state);
      if (!decision.ok) throw new DecisionRefused(decision.error);
      if (decision.events.length === 0) {
        const dup = decision.duplicateOf;
        const position = dup ? loaded.positions.get(dup.id) : undefined;
        return {
          stream,
          repeat: true,
          events: dup && position !== undefined ? [{ id: dup.id, type: dup.type, position: position.toString() }] : [],
        };
      }
      const started = process.hrtime.bigint();
      try {
        const result = await this.store.append(stream, decision.events.map(toStored), loaded.revision);
        this.metrics.appendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        return { stream, repeat: false, events: await this.positionsOf(stream, decision.events, result.nextRevision, result.position) };
      } catch (e) {
        if (isEventStoreError(e, 'WRONG_EXPECTED_REVISION') && attempt < MAX_CONFLICT_RETRIES) continue;
        throw e;
      }
    }
  }

  /** Exact positions: the append result names the last one; earlier ones are read back (positions need not be dense). */
  private async positionsOf(stream: string, events: DomainEvent[], nextRevision: bigint, last: bigint): Promise<Written['events']> {
    if (events.length === 1) return [{ id: events[0].id, type: events[0].type, position: last.toString() }];
    const fromRevision = nextRevision - BigInt(events.length) + 1n;
    const recorded = await this.store.readStream(stream, { fromRevision, maxCount: events.length });
    const byId = new Map(recorded.map((r) => [r.id, r.position]));
    return events.map((e) => ({ id: e.id, type: e.type, position: (byId.get(e.id) ?? last).toString() }));
  }
}
