/**
 * replay: rebuild every read model from a generated farm history (1M events; quick: 100k) into a fresh
 * read store. Reports events/s and the peak RSS of the replaying process, and, as the limit beneath it,
 * the raw readAll speed of the same SQLite event store (each measured in a fresh child process, so
 * neither inherits the other's heap or the generator's).
 */
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

async function child(mode: string, storePath: string): Promise<ChildResult> {
  const store = await openSqliteEventStore(storePath);
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let events = 0;
  if (mode === 'readall') {
    for await (const batch of store.readAll({ batchSize: 5000 })) events += batch.length;
  } else {
    const out = join(tmpdir(), `buildgraph-bench-replay-${process.pid}.sqlite`);
    rmSync(out, { force: true });
    events = (await replay({ events: store, out })).events;
    rmSync(out, { force: true });
  }
  const seconds = secondsSince(start);
  const used = process.cpuUsage(cpu);
  await store.close();
  return {
    events,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

function inChild(mode: string, storePath: string): ChildResult {
  const r = spawnSync(
    process.execPath,
    ['-r', '@swc-node/register', __filename, '--child', mode, storePath],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) throw new Error(`bench child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

const suite: BenchSuite = async ({ quick }) => {
  const target = quick ? 100_000 : 1_000_000;
  const history = await historyStore(target);
  const raw = inChild('readall', history.path);
  const rebuilt = inChild('replay', history.path);
  const readAllRate = raw.events / raw.seconds;
  const replayRate = rebuilt.events / rebuilt.seconds;
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
      readall_events_per_s: Math.round(readAllRate),
      readall_events_per_cpu_s: Math.round(raw.events / raw.cpuSeconds),
      readall_peak_rss_mib: Math.round(raw.maxRssMiB),
    },
    ratios: {
      replay_vs_readall: round(replayRate / readAllRate),
      replay_vs_readall_cpu: round(raw.cpuSeconds / rebuilt.cpuSeconds),
    },
  };
};

export default suite;

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
