/** Shared types and small timing helpers for benchmark suites (see bench/run.ts). */

export interface BenchOptions {
  /** a run under a minute, for CI and quick checks */
  quick: boolean;
}

/** Flat maps of names with units to numbers, e.g. `append_64_writers_events_per_s`. */
export interface BenchResult {
  metrics: Record<string, number>;
  limits: Record<string, number>;
  ratios: Record<string, number>;
}

export type BenchSuite = (opts: BenchOptions) => Promise<BenchResult>;

/** Seconds since `start` (from process.hrtime.bigint()). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The p-th percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Rounds to 3 significant decimals, so results files stay readable. */
export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
