import type Database from 'better-sqlite3';
import { EventStoreError } from '../errors';
import { HeadNotifier, pullSubscription } from '../live';
import type {
  AppendOutcome,
  AppendResult,
  EventData,
  EventFilter,
  EventStore,
  EventsHandler,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  StreamAppend,
  Subscription,
} from '../port';
import { checkFilter, checkReadAll, checkReadStream, prepareAppend, prepareAppends, type PreparedAppend } from '../validate';
import { BatchWriter } from './batch-writer';
import { openDatabase, storeError, type OpenOptions } from './schema';

interface PendingAppend extends PreparedAppend {
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

type Row = [position: bigint, id: string, stream: string, revision: bigint, type: string, data: string, metadata: string];

const MAX_POSITION = 9223372036854775807n;

/**
 * appendMany: appends per transaction. Large on purpose: events go to random places in the id index,
 * so small transactions rewrite the same index pages over and over (measured with 91k appends: 5k
 * per transaction took ~2-3x the wall time of one transaction). The event loop is held for one at a time.
 */
const APPEND_MANY_CHUNK = 100_000;

const COLUMNS = 'position, id, stream, revision, type, data, metadata';

/** Opens the embedded event store in one SQLite file (created if missing). */
export async function openSqliteEventStore(path: string, opts: OpenOptions = {}): Promise<SqliteEventStore> {
  const store = new SqliteEventStore(openDatabase(path, opts), path);
  if (opts.pollExternalAppendsMs) store.pollHead(opts.pollExternalAppendsMs);
  return store;
}

/**
 * The embedded adapter. Appends are group-committed: every append made while the event loop is
 * busy (the same tick, or during the previous commit's fsync) goes into one transaction, each
 * with its own expected-revision check, and each caller is answered after COMMIT. A conflicting
 * append fails alone. One connection serves reads and writes; better-sqlite3 is synchronous, so a
 * read never sees half a batch.
 */
export class SqliteEventStore implements EventStore {
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly notifier: HeadNotifier;
  private readonly subscriptions = new Set<Subscription>();
  private readonly readFilteredCache = new Map<string, Database.Statement>();
  private readonly stmt;
  private poller: NodeJS.Timeout | undefined;
  private readonly writer: BatchWriter;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    this.writer = new BatchWriter(db, path);
    this.stmt = {
      head: db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck().safeIntegers(true),
      readStream: db
        .prepare(`SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`)
        .raw()
        .safeIntegers(true),
      readAll: db.prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`).raw().safeIntegers(true),
    };
    this.notifier = new HeadNotifier(this.guard(() => this.stmt.head.get() as bigint));
  }

  append(stream: string, events: EventData[], expected: ExpectedRevision): Promise<AppendResult> {
    let prepared: PreparedAppend;
    try {
      this.assertOpen();
      prepared = prepareAppend(stream, events, expected);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ ...prepared, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate runs after the current tick's microtasks, so concurrent callers share a commit.
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * After the appends already queued (they commit first), in transactions of APPEND_MANY_CHUNK
   * appends through the same writer, so each keeps its own checks; other callers get a turn between
   * transactions. A store failure rejects the call (earlier transactions stay: re-appending is a no-op).
   */
  async appendMany(appends: readonly StreamAppend[]): Promise<AppendOutcome[]> {
    this.assertOpen();
    const prepared = prepareAppends(appends);
    const outcomes: AppendOutcome[] = [];
    for (let i = 0; i < prepared.length; i += APPEND_MANY_CHUNK) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      this.assertOpen();
      if (this.queue.length > 0) this.flush();
      const chunk = this.writer.commit(prepared.slice(i, i + APPEND_MANY_CHUNK));
      if (chunk.head === undefined) throw chunk.outcomes[0];
      this.notifier.advance(chunk.head);
      for (const outcome of chunk.outcomes) outcomes.push(outcome as AppendOutcome);
    }
    return outcomes;
  }

  async readStream(stream: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]> {
    const { fromRevision, maxCount } = checkReadStream(stream, opts);
    this.assertOpen();
    return this.guard(() => (this.stmt.readStream.all(stream, fromRevision, maxCount) as Row[]).map((r) => this.toEvent(r)));
  }

  async *readAll(opts?: ReadAllOptions): AsyncIterable<RecordedEvent[]> {
    const { from, to, filter, batchSize } = checkReadAll(opts);
    let cursor = from;
    while (true) {
      this.assertOpen();
      const events = this.readAfter(cursor, to ?? MAX_POSITION, filter, batchSize);
      if (events.length === 0) return;
      yield events;
      cursor = events[events.length - 1].position;
      if (events.length < batchSize) return;
    }
  }

  subscribe(opts: SubscribeOptions, onEvents: EventsHandler): Subscription {
    const { from, filter, batchSize } = checkReadAll({ from: opts.from, filter: checkFilter(opts.filter), batchSize: opts.batchSize });
    this.assertOpen();
    const subscription = pullSubscription(
      {
        notifier: this.notifier,
        isClosed: () => this.closed,
        readAfter: (after, limit) => {
          // Head first: everything up to it is committed, so the scan below covers it completely.
          const head = this.notifier.head;
          const events = this.readAfter(after, head, filter, limit);
          return { events, scannedTo: events.length < limit ? head : events[events.length - 1].position };
        },
      },
      from,
      batchSize,
      onEvents,
    );
    this.subscriptions.add(subscription);
    subscription.done.finally(() => this.subscriptions.delete(subscription)).catch(() => undefined);
    return subscription;
  }

  /** Commits and appends so far: appends/commits is the group-commit batching factor (for metrics). */
  get stats(): { commits: number; appends: number } {
    return this.writer.stats;
  }

  async headPosition(): Promise<Position> {
    this.assertOpen();
    return this.guard(() => this.stmt.head.get() as bigint);
  }

  /** Follows appends made through other connections (other processes) to the same file. */
  pollHead(intervalMs: number): void {
    clearInterval(this.poller);
    this.poller = setInterval(() => {
      if (this.closed) return;
      try {
        this.notifier.advance(this.stmt.head.get() as bigint);
      } catch {
        /* a failing read shows up in the subscriptions' own reads, with a code */
      }
    }, intervalMs);
    this.poller.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.poller);
    if (this.queue.length > 0) this.flush(); // accepted appends are committed, not dropped
    this.closed = true;
    this.notifier.close();
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.db.close();
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const { outcomes, head } = this.writer.commit(batch);
    if (head !== undefined) this.notifier.advance(head);
    batch.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof Error) pending.reject(outcome);
      else pending.resolve(outcome);
    });
  }

  private readAfter(after: Position, to: Position, filter: EventFilter | undefined, limit: number): RecordedEvent[] {
    return this.guard(() => {
      const prefixes = filter?.streamPrefixes;
      const types = filter?.eventTypes;
      if (!prefixes && !types) return (this.stmt.readAll.all(after, to, limit) as Row[]).map((r) => this.toEvent(r));
      if ((prefixes && prefixes.length === 0) || (types && types.length === 0)) return [];
      const key = `${prefixes?.length ?? -1}:${types?.length ?? -1}`;
      let stmt = this.readFilteredCache.get(key);
      if (!stmt) {
        // Prefixes are validated to [A-Za-z0-9._-], so none of GLOB's wildcards can appear in them.
        const where = [
          prefixes ? `(${prefixes.map(() => 'stream GLOB ?').join(' OR ')})` : '1',
          types ? `type IN (${types.map(() => '?').join(', ')})` : '1',
        ];
        stmt = this.db
          .prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? AND position <= ? AND ${where.join(' AND ')} ORDER BY position LIMIT ?`)
          .raw()
          .safeIntegers(true);
        this.readFilteredCache.set(key, stmt);
      }
      const params = [after, to, ...(prefixes ?? []).map((p) => `${p}*`), ...(types ?? []), limit];
      return (stmt.all(...params) as Row[]).map((r) => this.toEvent(r));
    });
  }

  private toEvent([position, id, stream, revision, type, data, metadata]: Row): RecordedEvent {
    try {
      return { id, type, data: JSON.parse(data), metadata: JSON.parse(metadata), stream, revision, position };
    } catch (err) {
      throw new EventStoreError('STORE_CORRUPT', `event store ${this.path}: event at position ${position} is not valid JSON`, {
        path: this.path,
        position: String(position),
        cause: String(err),
      });
    }
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storeError(err, this.path);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreError('STORE_CLOSED', `event store ${this.path} is closed`, { path: this.path });
  }
}
