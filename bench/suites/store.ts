/**
 * `npm run bench -- store [--quick]`: the SQLite event store on a temp file.
 * Durable append throughput and p99 latency with 1, 8 and 64 concurrent writers (~1 KB events,
 * one event per append, each writer on its own stream with an exact expected revision), readAll
 * throughput, and beneath them the raw limits: bare better-sqlite3 inserts of the same rows in one
 * transaction, and a bare scan of the same table.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteEventStore, type EventData, type ExpectedRevision } from '@buildgraph/eventstore';
import { percentile, round, secondsSince, type BenchResult, type BenchSuite } from '../harness';

/** ~1 KB of JSON, shaped like an AttemptSucceeded. */
function payload(n: number): EventData {
  return {
    id: randomUUID(),
    type: 'AttemptSucceeded',
    data: {
      attemptId: randomUUID(),
      drvPath: `/nix/store/${'0123456789abcdfghijklmnpqrsvwxyz'.repeat(1)}-hello-2.12.${n}.drv`,
      outputs: { out: '/nix/store/3jbx2yd2mq1fwmb1yq6hn1k2iqi2pfnr-hello-2.12.1' },
      inputRealisations: Object.fromEntries(
        Array.from({ length: 8 }, (_, i) => [`/nix/store/${String(i).repeat(32)}-dep-${i}.drv^out`, `/nix/store/${String(i).repeat(32)}-dep-${i}`]),
      ),
      finishedAt: '2026-01-01T00:00:00.000Z',
    },
    metadata: { schema: 1, correlationId: randomUUID(), causationId: randomUUID(), signer: 'farm-a:1', recordedAt: '2026-01-01T00:00:00.000Z' },
  };
}

async function appendScenario(path: string, writers: number, total: number): Promise<{ eventsPerS: number; p99Ms: number; batching: number }> {
  const store = await openSqliteEventStore(path);
  const perWriter = Math.ceil(total / writers);
  const events = Array.from({ length: perWriter * writers }, (_, n) => payload(n));
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let expected: ExpectedRevision = 'no-stream';
      for (let i = 0; i < perWriter; i++) {
        const t = process.hrtime.bigint();
        ({ nextRevision: expected } = await store.append(`group-bench-${writers}-${w}`, [events[w * perWriter + i]], expected));
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = secondsSince(started);
  const { commits, appends } = store.stats;
  await store.close();
  return { eventsPerS: (perWriter * writers) / seconds, p99Ms: percentile(latencies, 99), batching: appends / commits };
}

/**
 * The same rows, bare: one prepared INSERT per row, no checks, committed every `perCommit` rows
 * (Infinity: one transaction, the limit the brief asks for; 64: the durable floor the
 * 64-writer group commit cannot beat, since each of its commits waits for one fsync).
 */
function rawInsert(path: string, total: number, perCommit = Infinity): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stream TEXT NOT NULL, revision INTEGER NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream, revision)) STRICT`);
  const rows = Array.from({ length: total }, (_, n) => {
    const e = payload(n);
    return [n + 1, e.id, `group-raw-${n % 64}`, Math.floor(n / 64), e.type, JSON.stringify(e.data), JSON.stringify(e.metadata)];
  });
  const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)');
  const started = process.hrtime.bigint();
  const commit = db.transaction((slice: unknown[][]) => slice.forEach((r) => insert.run(...r)));
  const step = Math.min(perCommit, total);
  for (let i = 0; i < total; i += step) commit(rows.slice(i, i + step));
  const perS = total / secondsSince(started);
  db.close();
  return perS;
}

function rawScan(path: string): number {
  const db = new Database(path, { readonly: true });
  const started = process.hrtime.bigint();
  let n = 0;
  for (const _row of db.prepare('SELECT position, id, stream, revision, type, data, metadata FROM events ORDER BY position').raw().iterate()) n++;
  const perS = n / secondsSince(started);
  db.close();
  return perS;
}

async function readAllRate(path: string): Promise<number> {
  const store = await openSqliteEventStore(path);
  // Warm the JIT on a slice first; a replay of millions of events runs at the steady rate.
  for await (const _batch of store.readAll({ to: 5000n })) void _batch;
  const started = process.hrtime.bigint();
  let read = 0;
  for await (const batch of store.readAll()) read += batch.length;
  const perS = read / secondsSince(started);
  await store.close();
  return perS;
}

/**
 * Each round measures every scenario right next to its raw limit; the result keeps each figure's
 * best round. The machine is shared, so interference only ever makes a figure worse: the best of
 * a few rounds is the closest to what the code itself costs.
 */
const suite: BenchSuite = async ({ quick }): Promise<BenchResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'bg-bench-store-'));
  const metrics: Record<string, number> = {};
  const limits: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const best = (into: Record<string, number>, key: string, value: number) => (into[key] = Math.max(into[key] ?? 0, value));
  try {
    const total = quick ? 20_000 : 100_000;
    const rounds = quick ? 2 : 3;
    for (let round_ = 0; round_ < rounds; round_++) {
      const file = (name: string) => join(dir, `${name}-${round_}.db`);
      for (const writers of [1, 8, 64]) {
        const n = writers === 1 ? total / 4 : total;
        const r = await appendScenario(file(`append-${writers}`), writers, n);
        if (r.eventsPerS > (metrics[`append_${writers}_writers_events_per_s`] ?? 0)) {
          metrics[`append_${writers}_writers_events_per_s`] = Math.round(r.eventsPerS);
          metrics[`append_${writers}_writers_p99_ms`] = round(r.p99Ms); // the p99 of the round reported
          metrics[`append_${writers}_writers_appends_per_commit`] = round(r.batching, 1);
        }
      }
      best(limits, 'raw_sqlite_insert_64_per_commit_events_per_s', Math.round(rawInsert(file('raw-64'), total, 64)));
      best(limits, 'raw_sqlite_insert_events_per_s', Math.round(rawInsert(file('raw'), total)));
      // readAll over the 64-writer file, with JSON parsing, in the default batch size; then bare.
      best(metrics, 'readall_events_per_s', Math.round(await readAllRate(file('append-64'))));
      best(limits, 'raw_sqlite_scan_events_per_s', Math.round(rawScan(file('append-64'))));
    }
    for (const writers of [1, 8, 64]) {
      ratios[`append_${writers}_writers_to_raw`] = round(metrics[`append_${writers}_writers_events_per_s`] / limits.raw_sqlite_insert_events_per_s);
    }
    ratios.append_64_writers_to_raw_64_per_commit = round(metrics.append_64_writers_events_per_s / limits.raw_sqlite_insert_64_per_commit_events_per_s);
    ratios.readall_to_raw_scan = round(metrics.readall_events_per_s / limits.raw_sqlite_scan_events_per_s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { metrics, limits, ratios };
};

export default suite;
