/**
 * Replay: rebuild every read model from the log into a fresh file, optionally only up to a position or
 * a time, and compare it with a live read store. The file is written under a temporary name with no
 * journal (fast; a crash leaves only junk) and renamed when complete.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import type { EventStore, RecordedEvent } from '@buildgraph/eventstore';
import { ProjectionError } from './errors';
import { PROJECTIONS, decodeEvent } from './models';
import { ReadStore } from './read-store';
import { ProjectionRunner } from './runner';
import { SpillRuns } from './spill-runs';

export interface ReplayOptions {
  events: EventStore;
  /** the fresh read store to write; refused if it exists unless `overwrite` */
  out: string;
  overwrite?: boolean;
  /** a position (inclusive) or a time: stop before the first event recorded after it */
  to?: bigint | Date;
  /** documents kept in memory before the oldest half spill (default REPLAY_CACHE_DOCS) */
  cacheSize?: number;
  onBatch?: (batch: readonly RecordedEvent[]) => void;
  onProgress?: (progress: { position: bigint; head: bigint; events: number }) => void;
}

export interface ReplayResult {
  position: bigint;
  events: number;
  seconds: number;
  digests: Record<string, string>;
}

/** Documents replay keeps in memory (as objects) before spilling the oldest half: bounds the RSS. */
export const REPLAY_CACHE_DOCS = 40_000;

export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  if (existsSync(opts.out) && !opts.overwrite) {
    throw new ProjectionError(
      'INVALID_ARGUMENT',
      `${opts.out} exists: replay writes a fresh read store (remove it, or pass overwrite)`,
      { out: opts.out },
    );
  }
  const head = await opts.events.headPosition();
  const tmp = `${opts.out}.replay-${process.pid}`;
  rmSync(tmp, { force: true });
  const started = process.hrtime.bigint();
  const rs = new ReadStore(tmp, { bulk: true });
  const spill = new SpillRuns(`${tmp}.runs`);
  let result: ReplayResult;
  try {
    const runner = new ProjectionRunner({
      events: opts.events,
      readStore: rs,
      projections: PROJECTIONS,
      decode: decodeEvent,
      // documents stay in memory (hash keys: any of them may be touched next) until the cache is full;
      // then the oldest half leave as one sorted run, and the end merges the runs into the file in one
      // sorted sweep, so the docs b-tree is built by appending, once (docs/projections.md)
      spill,
      cacheSize: opts.cacheSize ?? REPLAY_CACHE_DOCS,
      batchSize: 1000,
    });
    const to = typeof opts.to === 'bigint' ? (opts.to < head ? opts.to : head) : head;
    const until = opts.to instanceof Date ? opts.to.getTime() : undefined;
    let count = 0;
    const position = await runner.catchUp({
      to,
      stopBefore: until === undefined ? undefined : (r) => recordedAfter(r, until),
      onBatch: opts.onBatch,
      onProgress: (p, n) => {
        count = n;
        opts.onProgress?.({ position: p, head: to, events: n });
      },
    });
    result = {
      position,
      events: count,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      digests: runner.builtDigests ?? rs.digests(),
    };
  } catch (err) {
    rs.close();
    spill.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  spill.close();
  rs.close();
  // written without fsync: one fsync before the rename, so the name never points at a half-written file
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (opts.overwrite) rmSync(opts.out, { force: true });
  renameSync(tmp, opts.out);
  return result;
}

function recordedAfter(r: RecordedEvent, until: number): boolean {
  const at = Date.parse(String((r.metadata as { recordedAt?: unknown }).recordedAt));
  return Number.isFinite(at) && at > until;
}

export interface DigestComparison {
  model: string;
  live?: string;
  replayed?: string;
  equal: boolean;
}

/** Per read model: do the live and replayed stores hold the same documents? */
export function compareDigests(
  live: Record<string, string>,
  replayed: Record<string, string>,
): DigestComparison[] {
  const models = [...new Set([...Object.keys(live), ...Object.keys(replayed)])].sort();
  return models.map((model) => ({
    model,
    live: live[model],
    replayed: replayed[model],
    equal: live[model] !== undefined && live[model] === replayed[model],
  }));
}
