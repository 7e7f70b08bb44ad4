import type Database from 'better-sqlite3';
import { EventStoreError, WrongExpectedRevisionError } from '../errors';
import type { AppendResult } from '../port';
import type { PreparedAppend } from '../validate';
import { storeError } from './schema';

function isDuplicateId(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' && String(e.message).includes('events.id');
}

/**
 * The write side of the SQLite store: commits a batch of appends in one transaction, each with
 * its own idempotence and expected-revision check, so a conflict fails only its own append.
 */
export class BatchWriter {
  private readonly stmt;
  /** Committed last revision per stream (-1n: none); trusted only while the head is `knownHead`. */
  private readonly revisions = new Map<string, bigint>();
  private knownHead = -1n;
  private counters = { commits: 0, appends: 0 };

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.stmt = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      head: db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck().safeIntegers(true),
      byId: db.prepare('SELECT position, stream, revision FROM events WHERE id = ?').raw().safeIntegers(true),
      lastRevision: db.prepare('SELECT max(revision) FROM events WHERE stream = ?').pluck().safeIntegers(true),
      insert: db.prepare('INSERT INTO events (position, id, stream, revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      deleteAfter: db.prepare('DELETE FROM events WHERE position > ?'),
    };
  }

  get stats(): { commits: number; appends: number } {
    return { ...this.counters };
  }

  /** Commits the batch; `head` is the new head position, or undefined if nothing was committed. */
  commit(batch: PreparedAppend[]): { outcomes: (AppendResult | Error)[]; head?: bigint } {
    const outcomes: (AppendResult | Error)[] = [];
    const touched = new Map<string, bigint>();
    try {
      this.stmt.begin.run();
      // Read inside the write lock, so another process appending to the same file cannot collide.
      let head = this.stmt.head.get() as bigint;
      if (head !== this.knownHead) this.revisions.clear(); // someone else appended: the cache may be stale
      for (const pending of batch) {
        try {
          const result = this.applyOne(pending, head, touched);
          head = result.position > head ? result.position : head;
          outcomes.push(result);
        } catch (err) {
          if (!(err instanceof EventStoreError)) throw err;
          outcomes.push(err);
        }
      }
      this.stmt.commit.run();
      if (this.revisions.size > 100_000) this.revisions.clear();
      for (const [stream, revision] of touched) this.revisions.set(stream, revision);
      this.knownHead = head;
      this.counters.commits++;
      this.counters.appends += batch.length;
      return { outcomes, head };
    } catch (err) {
      if (this.db.inTransaction) this.stmt.rollback.run();
      const failure = storeError(err, this.path);
      return { outcomes: batch.map(() => failure) };
    }
  }

  /** The stream's last revision (-1n: no stream), from this batch, the cache, or the index. */
  private lastRevision(stream: string, touched: Map<string, bigint>): bigint {
    const known = touched.get(stream) ?? this.revisions.get(stream);
    if (known !== undefined) return known;
    const last = this.stmt.lastRevision.get(stream) as bigint | null;
    return last === null ? -1n : last;
  }

  /**
   * Checks `expected`, then inserts. Ids are looked up only when something is off (a conflict or a
   * unique-id violation): a retry must be answered with the original result, not an error.
   */
  private applyOne({ stream, events, expected }: PreparedAppend, head: bigint, touched: Map<string, bigint>): AppendResult {
    const last = this.lastRevision(stream, touched);
    const actual = last === -1n ? 'no-stream' : last;
    if (expected === 'no-stream' ? actual !== 'no-stream' : expected !== 'any' && expected !== actual) {
      const retry = this.findStored(stream, events);
      if (retry) return retry;
      throw new WrongExpectedRevisionError(stream, expected, actual);
    }
    let revision = last;
    let position = head;
    try {
      for (const e of events) this.stmt.insert.run(++position, e.id, stream, ++revision, e.type, e.data, e.metadata);
    } catch (err) {
      if (!isDuplicateId(err)) throw err;
      this.stmt.deleteAfter.run(head); // this append's own rows: nothing of it may stay
      const retry = this.findStored(stream, events);
      if (retry) return retry;
      throw err;
    }
    touched.set(stream, revision);
    return { nextRevision: revision, position };
  }

  /** The original result if this append is a retry; throws DUPLICATE_EVENT_ID if only partly stored. */
  private findStored(stream: string, events: PreparedAppend['events']): AppendResult | undefined {
    const stored = events.map((e) => this.stmt.byId.get(e.id) as [bigint, string, bigint] | undefined);
    return stored.some((s) => s !== undefined) ? this.retried(stream, events, stored) : undefined;
  }

  /** A retry is a no-op only if the whole append is already stored, in order, in this stream. */
  private retried(stream: string, events: PreparedAppend['events'], stored: ([bigint, string, bigint] | undefined)[]): AppendResult {
    const first = stored[0];
    const isRetry =
      first !== undefined &&
      stored.every((s, i) => s !== undefined && s[1] === stream && s[2] === first[2] + BigInt(i));
    if (!isRetry) {
      const i = stored.findIndex((s) => s !== undefined);
      throw new EventStoreError(
        'DUPLICATE_EVENT_ID',
        `event id ${events[i].id} is already stored in ${stored[i]![1]} at revision ${stored[i]![2]}; the rest of this append is not`,
        { stream, id: events[i].id },
      );
    }
    const last = stored[stored.length - 1]!;
    return { nextRevision: last[2], position: last[0] };
  }
}
