/**
 * The negative cache: should this derivation be built now? A pure function of the drv-state document,
 * the time and the configuration. Hydra is the reference: transient failures are retried with
 * exponential backoff, permanent ones are cached (here with a TTL, which Hydra users asked for), and
 * TimedOut / LogLimitExceeded are neither cached nor retried on a schedule.
 */
import type { FailureCause, FailureStatus } from '../failure/classify';
import type { DrvStateDoc } from './drv-state';

export interface NegativeCacheConfig {
  /** how long a permanent failure is cached (default 7 days) */
  failureTtlMs: number;
  /** first retry delay after a transient failure (default 60 s) */
  retryDelayMs: number;
  /** each further transient failure multiplies the delay (default 3) */
  retryFactor: number;
  /** after this many consecutive transient failures the failure is cached like a permanent one (default 5) */
  maxTries: number;
}

export const DEFAULT_NEGATIVE_CACHE: NegativeCacheConfig = {
  failureTtlMs: 7 * 24 * 3600 * 1000,
  retryDelayMs: 60_000,
  retryFactor: 3,
  maxTries: 5,
};

export type ShouldBuild =
  | { decision: 'build'; reason: string }
  | { decision: 'skip-valid'; reason: string; serial: number; outputs: Record<string, string> }
  | {
      decision: 'skip-cached-failure';
      reason: string;
      status: FailureStatus;
      cause: FailureCause;
      logTail: string;
      /** when the failure happened */
      at: string;
      by: { attemptId: string; farm?: string; machine?: string };
      /** when it stops being cached (TTL) */
      until: string;
    }
  | { decision: 'retry-after'; reason: string; retryAt: string; tries: number }
  | { decision: 'wait-in-progress'; reason: string; attemptIds: readonly string[] };

export interface ShouldBuildOptions {
  force?: boolean;
  /**
   * The drv-state documents of the derivation's inputDrvs (those known). A DependencyFailed failure is
   * forgotten once one of them has succeeded after it: that is the "restart when the dependency is
   * fixed" Hydra users asked for.
   */
  dependencies?: readonly (DrvStateDoc | undefined)[];
}

/** Delay before retry number `tries + 1`, after `tries` consecutive transient failures. */
export function retryDelayMs(tries: number, config: NegativeCacheConfig): number {
  return config.retryDelayMs * config.retryFactor ** Math.max(0, tries - 1);
}

export function shouldBuild(
  doc: DrvStateDoc | undefined,
  now: Date,
  config: NegativeCacheConfig = DEFAULT_NEGATIVE_CACHE,
  opts: ShouldBuildOptions = {},
): ShouldBuild {
  if (opts.force) return { decision: 'build', reason: 'forced by the caller' };
  if (doc === undefined) return { decision: 'build', reason: 'never built' };
  if (doc.status === 'valid') {
    return {
      decision: 'skip-valid',
      reason: `valid at serial ${doc.serial}`,
      serial: doc.serial,
      outputs: doc.validOutputs,
    };
  }
  if (doc.inProgress.length > 0) {
    return {
      decision: 'wait-in-progress',
      reason: `${doc.inProgress.length} attempt(s) building`,
      attemptIds: doc.inProgress,
    };
  }
  const f = doc.failure;
  if (f === undefined) {
    if (doc.status === 'poisoned' || doc.status === 'invalidated')
      return { decision: 'build', reason: `its result was ${doc.status}` };
    return {
      decision: 'build',
      reason: doc.cleared ? `failure cleared by ${doc.cleared.by}` : 'never built',
    };
  }
  const failedAt = Date.parse(f.at);
  const cached = (reason: string): ShouldBuild => {
    const until = failedAt + config.failureTtlMs;
    if (now.getTime() >= until)
      return { decision: 'build', reason: `cached ${f.status} expired at ${new Date(until).toISOString()}` };
    const by: { attemptId: string; farm?: string; machine?: string } = { attemptId: f.attemptId };
    if (f.farm !== undefined) by.farm = f.farm;
    if (f.machine !== undefined) by.machine = f.machine;
    return {
      decision: 'skip-cached-failure',
      reason,
      status: f.status,
      cause: f.cause,
      logTail: f.logTail,
      at: f.at,
      by,
      until: new Date(until).toISOString(),
    };
  };
  switch (f.cache) {
    case 'none':
      return { decision: 'build', reason: `${f.status} is neither cached nor retried on a schedule` };
    case 'retry': {
      const tries = doc.transientFailures;
      if (tries >= config.maxTries)
        return cached(
          `${tries} transient failures in a row (${f.cause}); giving up like a permanent failure`,
        );
      const retryAt = failedAt + retryDelayMs(tries, config);
      if (now.getTime() >= retryAt)
        return { decision: 'build', reason: `transient ${f.cause} failure, backoff elapsed` };
      return {
        decision: 'retry-after',
        reason: `transient ${f.cause} failure (${tries} of ${config.maxTries})`,
        retryAt: new Date(retryAt).toISOString(),
        tries,
      };
    }
    case 'cache': {
      if (f.status === 'DependencyFailed') {
        const fixed = (opts.dependencies ?? []).find(
          (d) => d?.lastSucceededAt !== undefined && d.lastSucceededAt > f.at,
        );
        if (fixed)
          return { decision: 'build', reason: `dependency ${fixed.drvPath} succeeded since the failure` };
      }
      return cached(`cached ${f.status} (${f.cause})`);
    }
    default: {
      const never: never = f.cache;
      return never;
    }
  }
}
