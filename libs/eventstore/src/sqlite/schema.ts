import Database from 'better-sqlite3';
import { EventStoreError } from '../errors';

/** Schema version in PRAGMA user_version; a file with another version is refused, not migrated blindly. */
export const SCHEMA_VERSION = 1;

const EVENTS_COLUMNS = ['position', 'id', 'stream', 'revision', 'type', 'data', 'metadata'];

const CREATE = `
CREATE TABLE events (
  position INTEGER PRIMARY KEY,          -- the global sequence; never reused (nothing is deleted)
  id       TEXT    NOT NULL UNIQUE,      -- event id (lowercase UUID): the idempotence key
  stream   TEXT    NOT NULL,
  revision INTEGER NOT NULL,
  type     TEXT    NOT NULL,
  data     TEXT    NOT NULL,             -- JSON
  metadata TEXT    NOT NULL,             -- JSON object
  UNIQUE (stream, revision)
) STRICT;
PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** Turns a better-sqlite3 error into a coded EventStoreError that names the file and the problem. */
export function storeError(err: unknown, path: string): EventStoreError {
  if (err instanceof EventStoreError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'))) {
    return new EventStoreError('STORE_CORRUPT', `event store ${path} is corrupt or not an SQLite database: ${message}`, { path, sqlite: code }, { cause: err });
  }
  return new EventStoreError('UNAVAILABLE', `event store ${path}: ${message}`, { path, sqlite: typeof code === 'string' ? code : undefined }, { cause: err });
}

/** page cache per connection, KiB */
const CACHE_KIB = 64 * 1024;

export interface OpenOptions {
  /** Run PRAGMA quick_check at open (reads the whole file: slow on large stores). Default false. */
  verify?: boolean;
  /** How long to wait for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Also wake subscriptions for appends made by *other* processes on the same file, by polling the
   * head every this many ms. Default: off (only this instance's own appends are followed live).
   */
  pollExternalAppendsMs?: number;
}

/**
 * Opens (creating if needed) an event-store file: WAL, synchronous=FULL so that a resolved append
 * survives power loss, not just a process crash. Refuses files that are not ours with STORE_CORRUPT.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal' && path !== ':memory:') {
      throw new EventStoreError('UNAVAILABLE', `event store ${path}: could not switch to WAL (journal_mode=${String(mode)})`, { path });
    }
    db.pragma('synchronous = FULL');
    // Up to 64 MiB of page cache (SQLite's default is 2 MiB), filled only as pages are used. Event ids
    // and streams are random keys: a large multi-stream append (a stdenv invalidation, 91k events)
    // touches most pages of both indexes, and with 2 MiB they were evicted and spilled mid-transaction
    // (measured: 91,690 appends 2.8 -> 2.1 s).
    db.pragma(`cache_size = -${CACHE_KIB}`);
    if (opts.verify) {
      const result = db.pragma('quick_check', { simple: true });
      if (result !== 'ok') throw new EventStoreError('STORE_CORRUPT', `event store ${path} failed quick_check: ${String(result)}`, { path });
    }
    ensureSchema(db, path);
    return db;
  } catch (err) {
    try {
      db?.close();
    } catch {
      /* already failing; the original error is the useful one */
    }
    throw storeError(err, path);
  }
}

function ensureSchema(db: Database.Database, path: string): void {
  const inspect = () => ({
    version: db.pragma('user_version', { simple: true }) as number,
    tables: db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).pluck().all() as string[],
  });
  // Under the write lock, so two processes opening a new file at once create the table once.
  const { version, tables } = db
    .transaction(() => {
      const found = inspect();
      if (found.version !== 0 || found.tables.length !== 0) return found;
      db.exec(CREATE);
      return inspect();
    })
    .immediate();
  if (version !== SCHEMA_VERSION) {
    throw new EventStoreError(
      'STORE_CORRUPT',
      `${path} is not a buildgraph event store of schema ${SCHEMA_VERSION} (user_version=${version}, tables: ${tables.join(', ') || 'none'})`,
      { path, userVersion: version },
    );
  }
  const columns = (db.prepare(`SELECT name FROM pragma_table_info('events')`).pluck().all() as string[]).join(',');
  if (columns !== EVENTS_COLUMNS.join(',')) {
    throw new EventStoreError('STORE_CORRUPT', `${path}: table events has columns (${columns || 'missing'}), expected (${EVENTS_COLUMNS.join(',')})`, {
      path,
    });
  }
}
