/**
 * replay: rebuild every read model from a generated farm history (1M events; quick: 100k) into a fresh
 * read store. Reports events/s and the peak RSS of the replaying process, and the floors beneath it,
 * each measured in a fresh child process (none inherits another's heap or the generator's):
 * - bare SQLite: iterate every event row of the store (no decoding), then the same plus JSON.parse of
 *   data and metadata (what any replay must at least do with this store format);
 * - the event store's readAll (rows -> RecordedEvent);
 * - bare sorted insert of replay's own output: its docs rows, already in memory, inserted in key order
 *   into a fresh WITHOUT ROWID table with replay's bulk pragmas (what writing the result costs).
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toStored } from '@buildgraph/domain';
import { openSqliteEventStore } from '@buildgraph/eventstore';
import { replay } from '@buildgraph/projections';
import { generateHistory, type HistoryFacts, type HistoryOptions } from '../../test/support/history';
import { round, secondsSince, type BenchSuite } from '../harness';

const SEED = 20240301;
/** events per derivation in the generated history, measured: ~3.4 */
export const EVENTS_PER_DRV = 3.4;

/** A generated history in a SQLite event store, kept in the temp dir between runs (same options, same file). */
export async function historyStore(
  targetEvents: number,
  seed = SEED,
  extra: Omit<HistoryOptions, 'seed' | 'drvs'> = {},
): Promise<{ path: string; facts?: HistoryFacts; seconds: number }> {
  const dir = join(tmpdir(), 'buildgraph-bench');
  mkdirSync(dir, { recursive: true });
  const drvs = Math.round(targetEvents / EVENTS_PER_DRV);
  const tag = Object.entries(extra)
    .map(([k, v]) => `-${k}${String(v)}`)
    .join('');
  const path = join(dir, `history-${seed}-${drvs}${tag}.sqlite`);
  if (existsSync(path)) return { path, seconds: 0 };
  const tmp = `${path}.${process.pid}.tmp`;
  const start = process.hrtime.bigint();
  const store = await openSqliteEventStore(tmp);
  const facts: HistoryFacts = { stdenv: '', drvPaths: [], events: 0, byType: {} };
  let window: Promise<unknown>[] = [];
  for (const { stream, event } of generateHistory({ ...extra, seed, drvs }, facts)) {
    // issued together, committed in call order by the store's group commit
    window.push(store.append(stream, [toStored(event)], 'any'));
    if (window.length >= 5000) {
      await Promise.all(window);
      window = [];
    }
  }
  await Promise.all(window);
  await store.close();
  renameSync(tmp, path);
  return { path, facts, seconds: secondsSince(start) };
}

interface ChildResult {
  events: number;
  seconds: number;
  /** user + system CPU seconds: steadier than wall time on a shared machine */
  cpuSeconds: number;
  maxRssMiB: number;
}

/** rows per INSERT statement in the bare insert, as the read store's loadSorted */
const ROWS_PER_INSERT = 64;

/** Timed from here: everything before (opening, loading the insert's input) is set-up. */
function measure(events: number, start: bigint, cpu: NodeJS.CpuUsage): ChildResult {
  const seconds = secondsSince(start);
  const used = process.cpuUsage(cpu);
  return {
    events,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/** Every event row, straight from SQLite, in log order; `parse`: JSON.parse data and metadata too. */
function bareRead(storePath: string, parse: boolean): ChildResult {
  const db = new Database(storePath, { readonly: true });
  const stmt = db
    .prepare<[], [bigint, string, string, bigint, string, string, string]>(
      'SELECT position, id, stream, revision, type, data, metadata FROM events ORDER BY position',
    )
    .raw()
    .safeIntegers(true);
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let events = 0;
  let keep = 0;
  for (const row of stmt.iterate()) {
    if (parse) {
      const data = JSON.parse(row[5]) as unknown;
      const metadata = JSON.parse(row[6]) as unknown;
      if (data !== null && metadata !== null) keep++;
    } else keep += row[5].length & 1;
    events++;
  }
  const r = measure(events, start, cpu);
  db.close();
  if (keep < 0) throw new Error('unreachable'); // keeps the loop's work observable
  return r;
}

/**
 * replay's output rows, loaded into memory first, then inserted in key order into a fresh file
 * with replay's bulk pragmas, one transaction (`events` counts rows here; `bytes` key + json).
 */
function bareInsert(docsPath: string): ChildResult & { bytes: number } {
  const src = new Database(docsPath, { readonly: true });
  const rows = src
    .prepare<[], [string, string, string]>('SELECT model, key, json FROM docs ORDER BY model, key')
    .raw()
    .all();
  src.close();
  let bytes = 0;
  for (const [, key, json] of rows) bytes += Buffer.byteLength(key) + Buffer.byteLength(json);
  const out = `${docsPath}.insert-${process.pid}`;
  rmSync(out, { force: true });
  const db = new Database(out);
  db.unsafeMode(true);
  db.pragma('journal_mode = OFF');
  db.unsafeMode(false);
  db.pragma('synchronous = OFF');
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -65536');
  db.exec(
    'CREATE TABLE docs (model TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID',
  );
  const one = db.prepare<unknown[]>('INSERT INTO docs (model, key, json) VALUES (?, ?, ?)');
  const many = db.prepare<unknown[]>(
    `INSERT INTO docs (model, key, json) VALUES ${Array.from({ length: ROWS_PER_INSERT }, () => '(?, ?, ?)').join(', ')}`,
  );
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  db.transaction(() => {
    const params: unknown[] = [];
    for (const row of rows) {
      params.push(row[0], row[1], row[2]);
      if (params.length === 3 * ROWS_PER_INSERT) {
        many.run(params);
        params.length = 0;
      }
    }
    for (let i = 0; i < params.length; i += 3) one.run(params.slice(i, i + 3));
  })();
  db.close();
  const r = measure(rows.length, start, cpu);
  rmSync(out, { force: true });
  return { ...r, bytes };
}

async function child(mode: string, storePath: string, outPath?: string): Promise<ChildResult> {
  if (mode === 'iterate' || mode === 'parse') return bareRead(storePath, mode === 'parse');
  if (mode === 'insert') return bareInsert(storePath);
  const store = await openSqliteEventStore(storePath);
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let events = 0;
  if (mode === 'readall') {
    for await (const batch of store.readAll({ batchSize: 5000 })) events += batch.length;
  } else {
    // kept for the bare insert (the caller removes it)
    events = (await replay({ events: store, out: outPath!, overwrite: true })).events;
  }
  const r = measure(events, start, cpu);
  await store.close();
  return r;
}

function inChild<R = ChildResult>(mode: string, storePath: string, outPath = ''): R {
  const r = spawnSync(
    process.execPath,
    ['-r', '@swc-node/register', __filename, '--child', mode, storePath, outPath],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) throw new Error(`bench child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as R;
}

const suite: BenchSuite = async ({ quick }) => {
  const target = quick ? 100_000 : 1_000_000;
  const history = await historyStore(target);
  const iterate = inChild('iterate', history.path);
  const parse = inChild('parse', history.path);
  const raw = inChild('readall', history.path);
  const out = join(tmpdir(), `buildgraph-bench-replay-${process.pid}.sqlite`);
  let rebuilt: ChildResult;
  let insert: ChildResult & { bytes: number };
  try {
    rebuilt = inChild('replay', history.path, out);
    insert = inChild<ChildResult & { bytes: number }>('insert', out);
  } finally {
    rmSync(out, { force: true });
  }
  const readAllRate = raw.events / raw.seconds;
  const replayRate = rebuilt.events / rebuilt.seconds;
  const iterateRate = iterate.events / iterate.seconds;
  const parseRate = parse.events / parse.seconds;
  return {
    metrics: {
      history_events: rebuilt.events,
      history_generate_s: round(history.seconds, 1),
      replay_s: round(rebuilt.seconds, 2),
      replay_events_per_s: Math.round(replayRate),
      replay_cpu_s: round(rebuilt.cpuSeconds, 2),
      replay_events_per_cpu_s: Math.round(rebuilt.events / rebuilt.cpuSeconds),
      replay_peak_rss_mib: Math.round(rebuilt.maxRssMiB),
    },
    limits: {
      bare_iterate_events_per_s: Math.round(iterateRate),
      bare_iterate_s: round(iterate.seconds, 2),
      bare_iterate_cpu_s: round(iterate.cpuSeconds, 2),
      bare_parse_events_per_s: Math.round(parseRate),
      bare_parse_s: round(parse.seconds, 2),
      bare_parse_cpu_s: round(parse.cpuSeconds, 2),
      bare_insert_rows: insert.events,
      bare_insert_mib: round(insert.bytes / 2 ** 20, 1),
      bare_insert_rows_per_s: Math.round(insert.events / insert.seconds),
      bare_insert_s: round(insert.seconds, 2),
      bare_insert_cpu_s: round(insert.cpuSeconds, 2),
      readall_s: round(raw.seconds, 2),
      readall_cpu_s: round(raw.cpuSeconds, 2),
      readall_events_per_s: Math.round(readAllRate),
      readall_events_per_cpu_s: Math.round(raw.events / raw.cpuSeconds),
      readall_peak_rss_mib: Math.round(raw.maxRssMiB),
    },
    ratios: {
      replay_vs_bare_iterate: round(replayRate / iterateRate),
      replay_vs_bare_parse: round(replayRate / parseRate),
      replay_vs_readall: round(replayRate / readAllRate),
      replay_vs_readall_cpu: round(raw.cpuSeconds / rebuilt.cpuSeconds),
      // the floor of read + decode + write, run one after the other on one core
      replay_vs_parse_plus_insert_s: round((parse.seconds + insert.seconds) / rebuilt.seconds),
      insert_share_of_replay_s: round(insert.seconds / rebuilt.seconds),
    },
  };
};

export default suite;

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], process.argv[5]).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
