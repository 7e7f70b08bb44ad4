/**
 * invalidate: a 100k-derivation history with a build trace (quick: 20k), its read models caught up;
 * then the stdenv-like root is poisoned and we time how long until the invalidation policy has
 * appended every ResultInvalidated (>= 50k results downstream in the full run), and until this
 * runner's read models hold them too (its poll cannot run before that). The limit beneath it:
 * appending the same number of small events to as many streams, as fast as the store takes them.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import {
  drvStreamName,
  idempotencyKeys,
  makeEvent,
  planInvalidation,
  planInvalidationCompact,
  toStored,
  type DrvStateDoc,
  type ResultPoisoned,
} from '@buildgraph/domain';
import { openSqliteEventStore } from '@buildgraph/eventstore';
import {
  InvalidationPolicy,
  PROJECTIONS,
  ProjectionRunner,
  ReadStore,
  decodeEvent,
  drvState,
  loadInvalidationGraph,
  invalidationView,
} from '@buildgraph/projections';
import { round, secondsSince, type BenchSuite } from '../harness';
import { EVENTS_PER_DRV, historyStore } from './replay';
import { generateHistory } from '../../test/support/history';

const SEED = 424242;

const suite: BenchSuite = async ({ quick }) => {
  const drvs = quick ? 20_000 : 100_000;
  // no operator poisonings in the history: the root poisoning below is the one measured
  const extra = { poisonsPerThousand: 0 };
  const history = await historyStore(Math.round(drvs * EVENTS_PER_DRV), SEED, extra);
  const stdenv = rootOf(drvs, extra);

  // a copy of the history, so the run's appends do not change the cached file
  const dir = join(tmpdir(), `buildgraph-bench-invalidate-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(history.path, join(dir, 'events.sqlite'));
  const store = await openSqliteEventStore(join(dir, 'events.sqlite'));
  const rs = new ReadStore(join(dir, 'read.sqlite'));
  const policy = new InvalidationPolicy();
  const runner = new ProjectionRunner({
    events: store,
    readStore: rs,
    projections: PROJECTIONS,
    decode: decodeEvent,
    processors: [policy],
    // the service's defaults (cacheSize 200k, flushEvery 20k): the policy runs beside that heap
  });
  const catchUpStart = process.hrtime.bigint();
  await runner.catchUp();
  const catchUpSeconds = secondsSince(catchUpStart);

  const root = drvState(rs, stdenv) as DrvStateDoc;
  const [attemptId, result] = Object.entries(root.results)[0];
  const poison = makeEvent(
    'ResultPoisoned',
    {
      drvPath: stdenv,
      serial: root.serial + 1,
      reason: 'bench: poison the stdenv',
      scope: { kind: 'attempt', attemptId },
      cause: 'operator',
      attemptIds: [attemptId],
      outputPaths: Object.values(result.outputs).sort(),
    },
    idempotencyKeys.resultPoisoned(stdenv, root.serial + 1),
    { commandId: 'bench-poison', recordedAt: new Date().toISOString() },
  ) as ResultPoisoned;

  // processors catch up first: the history's own (group-failure) poisonings get their invalidations
  await runner.start();
  // the pure plan alone (same read store, before the poisoning is appended)
  const planStart = process.hrtime.bigint();
  const plan = planInvalidation(poison, invalidationView(rs));
  const planSeconds = secondsSince(planStart);
  const planned = plan.reduce((n, l) => n + l.length, 0);
  // what a policy without its kept graph does: load the graph from the read store, then walk it
  const coldStart = process.hrtime.bigint();
  const coldPlan = planInvalidationCompact(poison, loadInvalidationGraph(rs)!);
  const coldPlanSeconds = secondsSince(coldStart);
  if (coldPlan.flat().length !== planned)
    throw new Error('the graph walk plans otherwise than the seeking walk');

  // BENCH_CPU_PROF=DIR: a CPU profile of this process from the poisoning to the read models' catch-up
  const profiler = process.env.BENCH_CPU_PROF ? await startProfile() : undefined;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const appended = await store.append(drvStreamName(stdenv), [toStored(poison)], 'any');
  while (rs.checkpoint('processor:invalidation') < appended.position)
    await new Promise((r) => setTimeout(r, 2));
  const seconds = secondsSince(start);
  const used = process.cpuUsage(cpu);
  if (profiler)
    await stopProfile(profiler, join(process.env.BENCH_CPU_PROF!, `invalidate-${process.pid}.cpuprofile`));
  await runner.stop();
  // a digest of what the policy appended, in log order (ids, data and metadata): a change to the
  // policy's code must leave it equal
  let invalidated = 0;
  const digest = createHash('sha256');
  const rows: [bigint, string, string, bigint, string, string, string][] = [];
  for await (const batch of store.readAll({
    from: appended.position,
    filter: { eventTypes: ['ResultInvalidated'] },
  })) {
    invalidated += batch.length;
    for (const e of batch) {
      rows.push([
        e.position,
        e.id,
        e.stream,
        e.revision,
        e.type,
        JSON.stringify(e.data),
        JSON.stringify(e.metadata),
      ]);
      digest.update(
        `${e.stream}\n${e.id}\n${JSON.stringify(e.data)}\n${JSON.stringify({
          ...e.metadata,
          // the poisoning's time (this run's clock): equal to it, or the digest changes
          recordedAt: e.metadata.recordedAt === poison.metadata.recordedAt ? 'poison' : e.metadata.recordedAt,
        })}\n`,
      );
    }
  }
  // the limit: as many single-event appends to distinct streams, all in flight at once
  // the floor: the same rows inserted into the history as it was before the poisoning, by bare
  // better-sqlite3 in one transaction, with the store's pragmas (WAL, synchronous=FULL, 64 MiB cache)
  const bare = bareInsertSeconds(history.path, join(dir, 'bare.sqlite'), rows);
  const limitStart = process.hrtime.bigint();
  const data = { note: 'x'.repeat(400) };
  const appends: Promise<unknown>[] = [];
  for (let i = 0; i < invalidated; i++)
    appends.push(
      store.append(`system-bench-${i}`, [{ id: uuidv4(), type: 'BenchEvent', data, metadata: {} }], 'any'),
    );
  await Promise.all(appends);
  const limitSeconds = secondsSince(limitStart);

  await store.close();
  rs.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    metrics: {
      drvs,
      levels: plan.length,
      results_invalidated: invalidated,
      planned,
      // from appending the poisoning until the policy's last ResultInvalidated append has resolved
      poison_to_all_appended_s: round(
        Number(policy.last.startedAt - start) / 1e9 + policy.last.planSeconds + policy.last.appendSeconds,
      ),
      // ... until the read models (this runner's) also hold every invalidation
      poison_to_read_models_updated_s: round(seconds),
      poison_to_read_models_updated_cpu_s: round((used.user + used.system) / 1e6),
      // the seeking walk alone (no graph), before the poisoning is appended
      plan_only_s: round(planSeconds),
      // a graph loaded from the read store, then walked (a policy that does not keep its graph)
      cold_plan_s: round(coldPlanSeconds),
      // the policy's load of its kept graph when the runner started (then followed commit by commit)
      graph_load_s: round(policy.lastGraphLoadSeconds),
      graph_loads: policy.graphLoads,
      poison_to_policy_start_s: round(Number(policy.last.startedAt - start) / 1e9),
      policy_plan_s: round(policy.last.planSeconds),
      policy_append_s: round(policy.last.appendSeconds),
      // process CPU while the policy planned and appended (steadier than wall time on a shared machine)
      policy_cpu_s: round(policy.last.cpuSeconds),
      invalidations_appended_per_s: Math.round(
        invalidated / (policy.last.planSeconds + policy.last.appendSeconds),
      ),
      read_model_catch_up_s: round(catchUpSeconds, 1),
      // the first 48 bits, as a number (metrics are numbers)
      invalidated_digest: parseInt(digest.digest('hex').slice(0, 12), 16),
    },
    limits: {
      raw_appends_same_count_s: round(limitSeconds),
      bare_sqlite_insert_same_rows_s: round(bare),
    },
    ratios: {
      bare_insert_vs_policy: round(
        bare /
          (Number(policy.last.startedAt - start) / 1e9 + policy.last.planSeconds + policy.last.appendSeconds),
      ),
      bare_insert_vs_policy_append: round(bare / policy.last.appendSeconds),
      raw_append_vs_policy: round(
        limitSeconds /
          (Number(policy.last.startedAt - start) / 1e9 + policy.last.planSeconds + policy.last.appendSeconds),
      ),
    },
  };
};

async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

async function stopProfile(session: Session, file: string): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  session.disconnect();
}

function bareInsertSeconds(
  history: string,
  path: string,
  rows: readonly [bigint, string, string, bigint, string, string, string][],
): number {
  copyFileSync(history, path);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -65536');
  const insert = db.prepare(
    'INSERT INTO events (position, id, stream, revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const start = process.hrtime.bigint();
  db.transaction(() => {
    for (const row of rows) insert.run(...row);
  })();
  const seconds = secondsSince(start);
  db.close();
  return seconds;
}

/** The stdenv-like root of the generated graph: the generator's facts name it. */
function rootOf(drvs: number, extra: { poisonsPerThousand: number }): string {
  const facts = { stdenv: '', drvPaths: [] as string[], events: 0, byType: {} as Record<string, number> };
  const gen = generateHistory({ ...extra, seed: SEED, drvs }, facts);
  while (facts.stdenv === '') gen.next();
  return facts.stdenv;
}

export default suite;
