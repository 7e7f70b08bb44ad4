import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  isCommandError,
  jsonEvent,
  NO_STREAM,
  START,
  streamNameFilter,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type JSONType,
  type ReadPosition,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { EventStoreError, WrongExpectedRevisionError } from '../errors';
import type {
  AppendOutcome,
  AppendResult,
  EventData,
  EventStore,
  EventsHandler,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  SubscribeOptions,
  Subscription,
} from '../port';
import { isValidStreamName } from '../stream-names';
import { checkFilter, checkReadAll, checkReadStream, matchesFilter, prepareAppend, prepareAppends, type PreparedEvent } from '../validate';

/** How far back a rejected append looks for its own event ids before calling it a conflict. */
const RETRY_LOOKBACK = 1000n;

/** Connects to EventStoreDB (e.g. `esdb://localhost:2113?tls=false`). Verified by type-check only here. */
export async function openEsdbEventStore(url: string): Promise<EsdbEventStore> {
  let client: EventStoreDBClient;
  try {
    client = EventStoreDBClient.connectionString(url);
  } catch (err) {
    throw new EventStoreError('INVALID_ARGUMENT', `bad EventStoreDB connection string: ${(err as Error).message}`, {}, { cause: err });
  }
  return new EsdbEventStore(client);
}

/**
 * $all position mapping: every gRPC append writes self-committed prepares, for which the server
 * reports commit == prepare == the record's own log position, distinct per event and in $all order.
 * So Position = commit position, and resuming after p reads from {commit: p, prepare: p}
 * (inclusive on the server) and skips events at <= p. See docs/eventstore.md.
 */
export class EsdbEventStore implements EventStore {
  private closed = false;
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly client: EventStoreDBClient) {}

  async append(stream: string, events: EventData[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    const prepared = prepareAppend(stream, events, expected);
    const expectedRevision: AppendExpectedRevision = expected === 'any' ? ANY : expected === 'no-stream' ? NO_STREAM : expected;
    try {
      const result = await this.client.appendToStream(
        stream,
        prepared.events.map((e) => jsonEvent({ id: e.id, type: e.type, data: JSON.parse(e.data) as JSONType, metadata: JSON.parse(e.metadata) })),
        { expectedRevision },
      );
      // The server answers a duplicate (idempotent) append with the original end revision, so
      // reading back that event gives the original position in both cases.
      return { nextRevision: result.nextExpectedRevision, position: await this.positionOf(stream, result.nextExpectedRevision) };
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        const original = await this.findRetried(stream, prepared.events);
        if (original) return original;
        const actual = err.actualVersion === NO_STREAM ? 'no-stream' : (err.actualVersion as bigint);
        throw new WrongExpectedRevisionError(stream, expected, actual);
      }
      throw unavailable(err);
    }
  }

  /**
   * One append after another, in order (a multi-stream transaction is not in the gRPC API): slow for
   * thousands, but every caller's ids are deterministic, so a crash half-way is finished by a retry.
   */
  async appendMany(appends: readonly StreamAppend[]): Promise<AppendOutcome[]> {
    this.assertOpen();
    prepareAppends(appends); // bad input anywhere: nothing is appended
    const outcomes: AppendOutcome[] = [];
    for (const a of appends) {
      try {
        outcomes.push(await this.append(a.stream, a.events, a.expected));
      } catch (err) {
        if (!(err instanceof EventStoreError) || err.code === 'UNAVAILABLE' || err.code === 'STORE_CLOSED') throw err;
        outcomes.push(err);
      }
    }
    return outcomes;
  }

  async readStream(stream: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { fromRevision, maxCount } = checkReadStream(stream, opts);
    if (maxCount === 0) return [];
    const out: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(stream, { fromRevision, maxCount })) {
        const event = toRecorded(resolved);
        if (event) out.push(event);
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw unavailable(err);
    }
    return out;
  }

  async *readAll(opts?: ReadAllOptions): AsyncIterable<RecordedEvent[]> {
    this.assertOpen();
    const { from, to, filter, batchSize } = checkReadAll(opts);
    let batch: RecordedEvent[] = [];
    try {
      // readAll has no server-side filter in client 6.x: filter here.
      for await (const resolved of this.client.readAll({ fromPosition: readPosition(from) })) {
        const event = toRecorded(resolved);
        if (!event || event.position <= from) continue;
        if (to !== undefined && event.position > to) break;
        if (!matchesFilter(filter, event.stream, event.type)) continue;
        batch.push(event);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    } catch (err) {
      throw unavailable(err);
    }
    if (batch.length > 0) yield batch;
  }

  subscribe(opts: SubscribeOptions, onEvents: EventsHandler): Subscription {
    this.assertOpen();
    const { from, filter } = checkReadAll({ from: opts.from, filter: checkFilter(opts.filter) });
    const esdbSub = this.client.subscribeToAll({
      fromPosition: readPosition(from),
      filter: filter?.streamPrefixes ? streamNameFilter({ prefixes: filter.streamPrefixes }) : excludeSystemEvents(),
    });
    let cursor = from;
    let stopped = false;
    const done = (async () => {
      let handlerFailure: { error: unknown } | undefined;
      try {
        for await (const resolved of esdbSub) {
          const event = toRecorded(resolved);
          if (!event || event.position <= cursor) continue; // the server's start position is inclusive
          if (matchesFilter(filter, event.stream, event.type)) {
            try {
              await onEvents([event]);
            } catch (error) {
              handlerFailure = { error };
              break;
            }
          }
          cursor = event.position;
        }
      } catch (err) {
        if (!stopped && !this.closed) throw unavailable(err); // unsubscribing cancels the call: not a failure
      } finally {
        if (!stopped) await esdbSub.unsubscribe().catch(() => undefined); // a failed handler ends the server call too
      }
      if (handlerFailure) throw handlerFailure.error; // the projection's own error, unchanged
    })();
    done.catch(() => undefined);
    const subscription: Subscription = {
      get position() {
        return cursor;
      },
      done,
      close: async () => {
        stopped = true;
        await esdbSub.unsubscribe().catch(() => undefined);
        await done.catch(() => undefined);
      },
    };
    this.subscriptions.add(subscription);
    done.finally(() => this.subscriptions.delete(subscription)).catch(() => undefined);
    return subscription;
  }

  async headPosition(): Promise<Position> {
    this.assertOpen();
    try {
      for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) {
        const position = resolved.event?.position ?? resolved.link?.position;
        if (position) return position.commit;
      }
      return 0n;
    } catch (err) {
      throw unavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
  }

  private async positionOf(stream: string, revision: bigint): Promise<Position> {
    for await (const resolved of this.client.readStream(stream, { fromRevision: revision, maxCount: 1 })) {
      const position = resolved.event?.position;
      if (position) return position.commit;
    }
    throw new EventStoreError('UNAVAILABLE', `EventStoreDB did not report the position of ${stream}@${revision} (server older than 22.6?)`, { stream });
  }

  /** After a conflict: is this append already in the stream's tail (a retry whose answer was lost)? */
  private async findRetried(stream: string, events: PreparedEvent[]): Promise<AppendResult | undefined> {
    const wanted = new Map(events.map((e, i) => [e.id, i]));
    const found: (RecordedEvent | undefined)[] = new Array(events.length);
    try {
      for await (const resolved of this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: RETRY_LOOKBACK })) {
        const event = toRecorded(resolved);
        const i = event ? wanted.get(event.id) : undefined;
        if (i !== undefined) found[i] = event;
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return undefined;
      throw unavailable(err);
    }
    const present = found.filter((e) => e !== undefined).length;
    if (present === 0) return undefined;
    const first = found[0];
    if (present === events.length && first && found.every((e, i) => e!.revision === first.revision + BigInt(i))) {
      const last = found[found.length - 1]!;
      return { nextRevision: last.revision, position: last.position };
    }
    const i = found.findIndex((e) => e !== undefined);
    throw new EventStoreError('DUPLICATE_EVENT_ID', `event id ${events[i].id} is already stored in ${stream}; the rest of this append is not`, {
      stream,
      id: events[i].id,
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreError('STORE_CLOSED', 'event store is closed');
  }
}

function readPosition(from: Position): ReadPosition {
  return from === 0n ? START : { commit: from, prepare: from };
}

/** Our events only: JSON events in buildgraph streams; system and foreign events are skipped. */
function toRecorded(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const e = resolved.event;
  if (!e || !e.isJson || !isValidStreamName(e.streamId) || e.type.startsWith('$')) return undefined;
  if (!e.position) {
    // Stream reads carry positions only from server 22.6 on; without them there is no contract.
    throw new EventStoreError('UNAVAILABLE', 'EventStoreDB did not report event positions: buildgraph needs server 22.6 or later', {
      stream: e.streamId,
    });
  }
  return {
    id: e.id.toLowerCase(),
    type: e.type,
    data: e.data,
    metadata: (e.metadata ?? {}) as Record<string, unknown>,
    stream: e.streamId,
    revision: e.revision,
    position: e.position.commit,
  };
}

function unavailable(err: unknown): EventStoreError {
  if (err instanceof EventStoreError) return err;
  const what = err instanceof Error && isCommandError(err) ? `${err.type}: ${err.message}` : String((err as Error)?.message ?? err);
  return new EventStoreError('UNAVAILABLE', `EventStoreDB: ${what}`, {}, { cause: err });
}
