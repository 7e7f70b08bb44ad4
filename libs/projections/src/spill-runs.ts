import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { compareUtf8 } from '@buildgraph/nix';

/** rows per INSERT statement: one call into SQLite for many rows */
const ROWS_PER_INSERT = 64;

/**
 * Replay's overflow for documents that leave the runner's memory: each spill is one key-sorted run,
 * appended to a scratch SQLite file (a rowid heap: every insert lands at the end of the file, no
 * b-tree to keep sorted). Rows get consecutive ids, so a run's rows of one model are an id range in
 * key order. A newer run shadows older ones; a deletion is a row with json NULL (tombstone). At the
 * end the runs and the documents still in memory are merged into the read store in one sorted sweep.
 * The file is scratch: no journal, no fsync, removed on close.
 */
export class SpillRuns {
  private readonly db: Database.Database;
  private readonly putOne: Database.Statement<unknown[]>;
  private readonly putMany: Database.Statement<unknown[]>;
  private readonly rowStmt: Database.Statement<[number], [string, string, string | null]>;
  private readonly findStmt: Database.Statement<[string, string], string | null>;
  /** per run, oldest first: model -> [first id, last id] */
  private readonly runs: Map<string, [number, number]>[] = [];
  private next = 1;
  /** (model, key) hash -> ids of the rows written for indexed models, so a lookup reads one row */
  private readonly index = new IdIndex();

  constructor(readonly path: string) {
    rmSync(path, { force: true });
    this.db = new Database(path);
    // better-sqlite3's defensive mode refuses journal_mode=OFF; this file is thrown away on any failure
    this.db.unsafeMode(true);
    this.db.pragma('journal_mode = OFF');
    this.db.unsafeMode(false);
    this.db.pragma('synchronous = OFF');
    this.db.pragma('locking_mode = EXCLUSIVE');
    this.db.pragma('cache_size = -16384');
    this.db.exec(
      'CREATE TABLE runs (id INTEGER PRIMARY KEY, model TEXT NOT NULL, key TEXT NOT NULL, json TEXT)',
    );
    const values = (n: number) => Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ');
    this.putOne = this.db.prepare(`INSERT INTO runs (id, model, key, json) VALUES ${values(1)}`);
    this.putMany = this.db.prepare(
      `INSERT INTO runs (id, model, key, json) VALUES ${values(ROWS_PER_INSERT)}`,
    );
    this.rowStmt = this.db
      .prepare<[number], [string, string, string | null]>('SELECT model, key, json FROM runs WHERE id = ?')
      .raw();
    this.findStmt = this.db
      .prepare<[string, string], string | null>(
        'SELECT json FROM runs WHERE model = ? AND key = ? ORDER BY id DESC LIMIT 1',
      )
      .pluck();
  }

  /** How many runs were written. */
  get count(): number {
    return this.runs.length;
  }

  /**
   * Writes one run; `rows` must come sorted by (model, key), each key once (json null = deleted).
   * Rows marked `indexed` can be found again by `lookup`; the others only by the final merge (and `find`).
   */
  write(rows: Iterable<readonly [model: string, key: string, json: string | null, indexed: boolean]>): void {
    const ranges = new Map<string, [number, number]>();
    this.db.transaction(() => {
      const params: unknown[] = [];
      for (const [model, key, json, indexed] of rows) {
        const id = this.next++;
        if (indexed) this.index.add(hashOf(model, key), id);
        const range = ranges.get(model);
        if (range) range[1] = id;
        else ranges.set(model, [id, id]);
        params.push(id, model, key, json);
        if (params.length === 4 * ROWS_PER_INSERT) {
          this.putMany.run(params);
          params.length = 0;
        }
      }
      for (let i = 0; i < params.length; i += 4) this.putOne.run(params.slice(i, i + 4));
    })();
    this.runs.push(ranges);
  }

  /** The newest JSON written for an indexed document: undefined when never written, null when deleted. */
  lookup(model: string, key: string): string | null | undefined {
    for (const id of this.index.candidates(hashOf(model, key))) {
      const row = this.rowStmt.get(id);
      if (row !== undefined && row[0] === model && row[1] === key) return row[2];
    }
    return undefined;
  }

  /**
   * The newest JSON of a document in any run, for models the caller does not index (blind ones,
   * which replay never reads back): a scan of the whole file, correct but slow.
   */
  find(model: string, key: string): string | null | undefined {
    return this.findStmt.get(model, key);
  }

  /** The runs' rows of one model as [key, json], each run in key order, newest run first. */
  scans(model: string): Iterator<[string, string | null]>[] {
    const out: Iterator<[string, string | null]>[] = [];
    for (let run = this.runs.length - 1; run >= 0; run--) {
      const range = this.runs[run].get(model);
      if (!range) continue;
      const stmt = this.db
        .prepare<[number, number], [string, string | null]>(
          'SELECT key, json FROM runs WHERE id BETWEEN ? AND ?',
        )
        .raw();
      out.push(stmt.iterate(range[0], range[1]));
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
 * SQLite's order for TEXT keys (BINARY: UTF-8 bytes, i.e. code points), the order Nix's std::map
 * keeps too. JavaScript's `<` compares UTF-16 units, which agrees except between a surrogate pair and
 * U+E000..U+FFFF: only keys with such characters (`isWideKey`) need this slower comparison.
 */
export const compareKeys: (a: string, b: string) => number = compareUtf8;

/** 32-bit FNV-1a of model and key, with a final mix so the low bits spread. */
function hashOf(model: string, key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < model.length; i++) h = Math.imul(h ^ model.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0, 0x01000193);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * hash -> row ids, open addressing in two typed arrays (8 bytes an entry: a million spilled documents
 * cost a few MB, where a Map of their keys would keep every key string alive). Equal hashes are
 * resolved by the caller, who reads the rows; a newer row for the same key is simply another entry.
 */
class IdIndex {
  private hashes = new Uint32Array(1 << 16);
  private ids = new Uint32Array(1 << 16);
  private size = 0;

  add(hash: number, id: number): void {
    if ((this.size + 1) * 2 > this.ids.length) this.grow();
    const mask = this.ids.length - 1;
    let i = hash & mask;
    while (this.ids[i] !== 0) i = (i + 1) & mask;
    this.hashes[i] = hash;
    this.ids[i] = id;
    this.size++;
  }

  /** Ids stored under this hash, newest first. */
  candidates(hash: number): number[] {
    const mask = this.ids.length - 1;
    const out: number[] = [];
    for (let i = hash & mask; this.ids[i] !== 0; i = (i + 1) & mask)
      if (this.hashes[i] === hash) out.push(this.ids[i]);
    return out.sort((a, b) => b - a);
  }

  private grow(): void {
    const { hashes, ids } = this;
    this.hashes = new Uint32Array(ids.length * 2);
    this.ids = new Uint32Array(ids.length * 2);
    this.size = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== 0) this.add(hashes[i], ids[i]);
  }
}
