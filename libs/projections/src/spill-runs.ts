import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';

/**
 * Replay's overflow for documents that leave the runner's memory: each spill is one key-sorted run,
 * appended to a scratch SQLite file as a whole (sequential writes, no random b-tree inserts). A run
 * is never changed; a newer run shadows older ones; a deletion is a row with json NULL (tombstone).
 * At the end the runs and the documents still in memory are merged into the read store in one sorted
 * sweep (`merge`). The file is scratch: no journal, no fsync, removed on close.
 */
export class SpillRuns {
  private readonly db: Database.Database;
  private readonly putStmt: Database.Statement<[number, string, string, string | null]>;
  private readonly getStmt: Database.Statement<[number, string, string], string | null>;
  private readonly findStmt: Database.Statement<[string, string], string | null>;
  private runs = 0;

  constructor(readonly path: string) {
    rmSync(path, { force: true });
    this.db = new Database(path);
    // better-sqlite3's defensive mode refuses journal_mode=OFF; this file is thrown away on any failure
    this.db.unsafeMode(true);
    this.db.pragma('journal_mode = OFF');
    this.db.unsafeMode(false);
    this.db.pragma('synchronous = OFF');
    this.db.pragma('locking_mode = EXCLUSIVE');
    this.db.pragma('cache_size = -32768');
    this.db.exec(
      'CREATE TABLE runs (run INTEGER NOT NULL, model TEXT NOT NULL, key TEXT NOT NULL, json TEXT, PRIMARY KEY (run, model, key)) WITHOUT ROWID',
    );
    this.putStmt = this.db.prepare('INSERT INTO runs (run, model, key, json) VALUES (?, ?, ?, ?)');
    this.getStmt = this.db
      .prepare<[number, string, string], string | null>(
        'SELECT json FROM runs WHERE run = ? AND model = ? AND key = ?',
      )
      .pluck();
    this.findStmt = this.db
      .prepare<[string, string], string | null>(
        'SELECT json FROM runs WHERE model = ? AND key = ? ORDER BY run DESC LIMIT 1',
      )
      .pluck();
  }

  /** How many runs were written. */
  get count(): number {
    return this.runs;
  }

  /**
   * Writes one run; `rows` must come sorted by (model, key), each key once (json null = deleted).
   * Returns the run's number (newer runs have higher numbers).
   */
  write(rows: Iterable<readonly [model: string, key: string, json: string | null]>): number {
    const run = ++this.runs;
    this.db.transaction(() => {
      for (const [model, key, json] of rows) this.putStmt.run(run, model, key, json);
    })();
    return run;
  }

  /** The document's JSON in that run: undefined when absent, null when deleted there. */
  get(run: number, model: string, key: string): string | null | undefined {
    return this.getStmt.get(run, model, key);
  }

  /** The newest JSON of a document in any run (for models whose runs the caller does not index). */
  find(model: string, key: string): string | null | undefined {
    return this.findStmt.get(model, key);
  }

  /** The runs' rows of one model as [key, json, run], each run in key order, newest run first. */
  scans(model: string): Iterator<[string, string | null]>[] {
    const out: Iterator<[string, string | null]>[] = [];
    for (let run = this.runs; run >= 1; run--) {
      const stmt = this.db
        .prepare<[number, string], [string, string | null]>(
          'SELECT key, json FROM runs WHERE run = ? AND model = ? ORDER BY key',
        )
        .raw();
      out.push(stmt.iterate(run, model));
    }
    return out;
  }

  close(): void {
    if (this.db.open) this.db.close();
    rmSync(this.path, { force: true });
  }
}

/**
 * Merges key-sorted sources of one model into one key-sorted stream: where several sources hold a
 * key, the first source (the newest) wins; a null (deleted) winner is dropped.
 */
export function* mergeNewestFirst(
  sources: Iterator<readonly [string, string | null]>[],
  wide: boolean,
): Generator<[string, string]> {
  // a binary heap of source indexes ordered by (current key, source index)
  const heads: (readonly [string, string | null])[] = [];
  const heap: number[] = [];
  const less = (a: number, b: number): boolean => {
    const ka = heads[a][0];
    const kb = heads[b][0];
    if (ka === kb) return a < b;
    return wide ? compareKeys(ka, kb) < 0 : ka < kb;
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let s = 0; s < sources.length; s++) {
    const n = sources[s].next();
    heads[s] = n.done ? ['', null] : n.value;
    if (!n.done) heap.push(s);
  }
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  let last: string | undefined;
  while (heap.length > 0) {
    const s = heap[0];
    const [key, json] = heads[s];
    // the first time a key comes out it is from the newest source that has it
    if (key !== last) {
      last = key;
      if (json !== null) yield [key, json];
    }
    const n = sources[s].next();
    if (n.done) {
      const tail = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = tail;
        down(0);
      }
    } else {
      heads[s] = n.value;
      down(0);
    }
  }
}

/** True when a key has a character from U+D800 up, where UTF-16 order and SQLite's byte order differ. */
export function isWideKey(key: string): boolean {
  return WIDE.test(key);
}
const WIDE = /[\ud800-\uffff]/;

/**
 * SQLite's order for TEXT keys (BINARY: UTF-8 bytes, i.e. code points). JavaScript's `<` compares
 * UTF-16 units, which agrees except between a surrogate pair and U+E000..U+FFFF: only keys with such
 * characters (`isWideKey`) need this slower comparison.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // surrogates (U+10000 and up) sort after U+E000..U+FFFF in code-point order
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
