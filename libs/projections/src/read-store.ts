import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { ProjectionError } from './errors';

/**
 * Read models as keyed JSON documents in one SQLite file, plus named checkpoints (log positions).
 * Documents and checkpoints change only together, in one transaction (`commit`), so a reader or a
 * restarted runner never sees an update without its checkpoint or the reverse.
 */

/** One document change: `doc` undefined deletes the row. */
export interface DocChange {
  model: string;
  key: string;
  doc: unknown;
}

export interface ReadStoreOptions {
  readonly?: boolean;
  /**
   * For a fresh file being rebuilt by replay: no journal, no fsync. A crash leaves a broken file,
   * which is fine because replay writes to a temporary name and renames it at the end.
   */
  bulk?: boolean;
}

/** Read access to documents; the runner's cache implements it too, so policies see their own batch. */
export interface DocReader {
  get<D = unknown>(model: string, key: string): D | undefined;
}

const FORMAT = 'buildgraph-read-store/1';

/** loadSorted: rows per INSERT statement */
const ROWS_PER_INSERT = 64;

export class ReadStore implements DocReader {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, string], { json: string }>;
  private readonly putStmt: Database.Statement<[string, string, string]>;
  private readonly delStmt: Database.Statement<[string, string]>;
  private readonly metaGet: Database.Statement<[string], { value: string }>;
  private readonly metaPut: Database.Statement<[string, string]>;

  constructor(
    readonly path: string,
    opts: ReadStoreOptions = {},
  ) {
    try {
      this.db = new Database(path, {
        readonly: opts.readonly === true,
        fileMustExist: opts.readonly === true,
      });
    } catch (err) {
      throw new ProjectionError(
        'READ_STORE_CORRUPT',
        `cannot open read store ${path}: ${(err as Error).message}`,
        { path },
        { cause: err },
      );
    }
    try {
      if (!opts.readonly) {
        if (opts.bulk) {
          // better-sqlite3's defensive mode silently keeps the rollback journal unless allowed
          this.db.unsafeMode(true);
          this.db.pragma('journal_mode = OFF');
          this.db.unsafeMode(false);
          this.db.pragma('synchronous = OFF');
          // nobody else opens the file while it is rebuilt: no shared-lock round trips per transaction
          this.db.pragma('locking_mode = EXCLUSIVE');
          this.db.pragma('temp_store = MEMORY');
        } else {
          this.db.pragma('journal_mode = WAL');
          // NORMAL is enough: a lost last transaction takes its checkpoint with it, so the runner re-applies it.
          this.db.pragma('synchronous = NORMAL');
        }
        // bulk: a sorted flush sweeps each page once, so a big page cache buys little and costs RSS
        this.db.pragma('cache_size = -65536');
        // the live store is read at random (policies walk thousands of documents): mapped pages spare
        // a read() per page; replay (bulk) keeps its memory to the page cache
        if (!opts.bulk) this.db.pragma('mmap_size = 1073741824');
        this.db.exec(`
          CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
          CREATE TABLE IF NOT EXISTS docs (model TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID;
        `);
        this.db.prepare(`INSERT OR IGNORE INTO meta (name, value) VALUES ('format', ?)`).run(FORMAT);
      }
      const format = this.db.prepare(`SELECT value FROM meta WHERE name = 'format'`).get() as
        { value: string } | undefined;
      if (format?.value !== FORMAT)
        throw new Error(`format is ${format?.value ?? 'missing'}, expected ${FORMAT}`);
      this.getStmt = this.db.prepare('SELECT json FROM docs WHERE model = ? AND key = ?');
      this.putStmt = this.db.prepare('INSERT OR REPLACE INTO docs (model, key, json) VALUES (?, ?, ?)');
      this.delStmt = this.db.prepare('DELETE FROM docs WHERE model = ? AND key = ?');
      this.metaGet = this.db.prepare('SELECT value FROM meta WHERE name = ?');
      this.metaPut = this.db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)');
    } catch (err) {
      this.db.close();
      if (err instanceof ProjectionError) throw err;
      throw new ProjectionError(
        'READ_STORE_CORRUPT',
        `${path} is not a buildgraph read store: ${(err as Error).message}`,
        { path },
        { cause: err },
      );
    }
  }

  get<D = unknown>(model: string, key: string): D | undefined {
    const row = this.getStmt.get(model, key);
    if (row === undefined) return undefined;
    return parse(row.json, model, key) as D;
  }

  /** The documents of a model in key order, optionally only keys starting with `prefix`. */
  *scan<D = unknown>(model: string, prefix = ''): IterableIterator<[string, D]> {
    for (const row of this.scanRows(model, prefix)) yield [row.key, parse(row.json, model, row.key) as D];
  }

  /** Just the keys under a prefix (index documents carry their meaning in the key). */
  keys(model: string, prefix = ''): string[] {
    this.keysStmt ??= this.db
      .prepare<[string, string, string], string>(
        'SELECT key FROM docs WHERE model = ? AND key >= ? AND key < ? ORDER BY key',
      )
      .pluck();
    return this.keysStmt.all(model, prefix, prefix + '\uffff');
  }

  /** Every document of a model as [key, json], in key order, unparsed (one sequential scan). */
  *allRows(model: string): IterableIterator<[string, string]> {
    const stmt = this.db
      .prepare<[string], [string, string]>('SELECT key, json FROM docs WHERE model = ? ORDER BY key')
      .raw();
    yield* stmt.iterate(model);
  }

  /** Every key of a model, in key order, without the documents (one sequential scan). */
  *allKeys(model: string): IterableIterator<string> {
    const stmt = this.db
      .prepare<[string], string>('SELECT key FROM docs WHERE model = ? ORDER BY key')
      .pluck();
    yield* stmt.iterate(model);
  }

  private scanStmt: Database.Statement<[string, string, string], { key: string; json: string }> | undefined;
  private keysStmt: Database.Statement<[string, string, string], string> | undefined;

  private scanRows(model: string, prefix: string): { key: string; json: string }[] {
    this.scanStmt ??= this.db.prepare(
      'SELECT key, json FROM docs WHERE model = ? AND key >= ? AND key < ? ORDER BY key',
    );
    return this.scanStmt.all(model, prefix, prefix + '\uffff');
  }

  /** True when no document has been written yet (a fresh file). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM docs LIMIT 1').get() === undefined;
  }

  count(model: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM docs WHERE model = ?').get(model) as { n: number }).n;
  }

  models(): string[] {
    return (
      this.db.prepare('SELECT DISTINCT model FROM docs ORDER BY model').all() as { model: string }[]
    ).map((r) => r.model);
  }

  /** The last position applied by `name` (0n when never run). */
  checkpoint(name: string): bigint {
    const row = this.metaGet.get(`checkpoint:${name}`);
    return row === undefined ? 0n : BigInt(row.value);
  }

  getMeta(name: string): string | undefined {
    return this.metaGet.get(name)?.value;
  }

  /** Writes the changes and checkpoints atomically: all or nothing. */
  commit(
    changes: Iterable<DocChange>,
    checkpoints: Record<string, bigint> = {},
    meta: Record<string, string> = {},
  ): void {
    this.db.transaction(() => {
      for (const c of changes) {
        if (c.doc === undefined) this.delStmt.run(c.model, c.key);
        else this.putStmt.run(c.model, c.key, canonicalJson(c.doc));
      }
      for (const [name, position] of Object.entries(checkpoints))
        this.metaPut.run(`checkpoint:${name}`, position.toString());
      for (const [name, value] of Object.entries(meta)) this.metaPut.run(name, value);
    })();
  }

  /**
   * Fills a store that has no documents yet, in one transaction, from rows already sorted in SQLite's
   * key order (model, then key) and already canonical JSON: the b-tree is built by appending, once.
   * Returns each written model's digest, computed on the way (the same bytes `digest` would read back).
   */
  loadSorted(
    rows: Iterable<readonly [model: string, key: string, json: string]>,
    checkpoints: Record<string, bigint> = {},
    meta: Record<string, string> = {},
  ): Record<string, string> {
    if (!this.isEmpty())
      throw new ProjectionError(
        'INVALID_ARGUMENT',
        `${this.path} already has documents: loadSorted fills a fresh store`,
      );
    const insert = this.db.prepare<unknown[]>('INSERT INTO docs (model, key, json) VALUES (?, ?, ?)');
    // many rows per statement: the per-call cost of better-sqlite3 is most of a small row's insert
    const insertMany = this.db.prepare<unknown[]>(
      `INSERT INTO docs (model, key, json) VALUES ${Array.from({ length: ROWS_PER_INSERT }, () => '(?, ?, ?)').join(', ')}`,
    );
    const digests: Record<string, string> = {};
    this.db.transaction(() => {
      let model: string | undefined;
      let hash = createHash('sha256');
      let chunk = '';
      const params: unknown[] = [];
      const done = () => {
        if (model === undefined) return;
        hash.update(chunk);
        digests[model] = hash.digest('hex');
      };
      for (const [m, key, json] of rows) {
        if (m !== model) {
          done();
          model = m;
          hash = createHash('sha256');
          chunk = '';
        }
        params.push(m, key, json);
        if (params.length === 3 * ROWS_PER_INSERT) {
          insertMany.run(params);
          params.length = 0;
        }
        chunk += key + '\0' + json + '\n';
        if (chunk.length > 1 << 16) {
          hash.update(chunk);
          chunk = '';
        }
      }
      done();
      for (let i = 0; i < params.length; i += 3) insert.run(params.slice(i, i + 3));
      for (const [name, position] of Object.entries(checkpoints))
        this.metaPut.run(`checkpoint:${name}`, position.toString());
      for (const [name, value] of Object.entries(meta)) this.metaPut.run(name, value);
    })();
    return digests;
  }

  /**
   * sha256 over the model's rows in key order (`key \0 json \n`): equal digests mean equal read
   * models, whatever the history of the files' pages.
   */
  digest(model: string): string {
    const hash = createHash('sha256');
    const stmt = this.db
      .prepare<[string], [string, string]>('SELECT key, json FROM docs WHERE model = ? ORDER BY key')
      .raw();
    // hashing in chunks: one update per row costs more than the hashing itself
    let chunk = '';
    for (const [key, json] of stmt.iterate(model)) {
      chunk += key + '\0' + json + '\n';
      if (chunk.length > 1 << 16) {
        hash.update(chunk);
        chunk = '';
      }
    }
    hash.update(chunk);
    return hash.digest('hex');
  }

  /** A digest per model present in the file. */
  digests(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of this.models()) out[m] = this.digest(m);
    return out;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function parse(json: string, model: string, key: string): unknown {
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new ProjectionError(
      'READ_STORE_CORRUPT',
      `document ${model}/${key} is not JSON`,
      { model, key },
      { cause: err },
    );
  }
}
