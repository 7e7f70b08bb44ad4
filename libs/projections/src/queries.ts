/**
 * The questions users ask, as plain functions over a read store (live, or one rebuilt by replay at a
 * past position). The service exposes them over NATS/HTTP; they never write.
 */
import {
  ATTEMPT_TRACE,
  BASE_TRACE,
  CONSUMERS,
  DEFAULT_NEGATIVE_CACHE,
  DRV_STATE,
  FOD_LEDGER,
  GRAPH,
  GROUP_OUTCOME,
  INCOHERENCE,
  KEY_SEP,
  REFERRERS,
  UNREPORTED,
  VALID_RESULTS,
  attemptKey,
  fodDue,
  parseConsumerKey,
  shouldBuild as decideShouldBuild,
  type AttemptRef,
  type AttemptTraceDoc,
  type BaseTraceDoc,
  type DrvStateDoc,
  type FodDueReason,
  type FodLedgerDoc,
  type GraphDoc,
  type GroupOutcomeDoc,
  type IncoherenceDoc,
  type InvalidationView,
  type NegativeCacheConfig,
  type ShouldBuild,
  type ValidResultsDoc,
} from '@buildgraph/domain';
import { ProjectionError } from './errors';
import type { ReadStore } from './read-store';

export function drvState(rs: ReadStore, drvPath: string): DrvStateDoc | undefined {
  return rs.get<DrvStateDoc>(DRV_STATE, drvPath);
}

export function shouldBuild(
  rs: ReadStore,
  drvPath: string,
  opts: { force?: boolean; now: Date; config?: NegativeCacheConfig },
): ShouldBuild {
  const doc = drvState(rs, drvPath);
  const inputs =
    doc?.failure?.status === 'DependencyFailed'
      ? Object.keys(rs.get<GraphDoc>(GRAPH, drvPath)?.inputDrvs ?? {})
      : [];
  const dependencies = inputs.map((d) => drvState(rs, d));
  return decideShouldBuild(doc, opts.now, opts.config ?? DEFAULT_NEGATIVE_CACHE, {
    force: opts.force,
    dependencies,
  });
}

/** Direct referrers: drvs that list `drvPath` in their inputDrvs. */
export function referrersOf(rs: ReadStore, drvPath: string): string[] {
  const prefix = drvPath + KEY_SEP;
  return rs.keys(REFERRERS, prefix).map((k) => k.slice(prefix.length));
}

/** Everything that depends on `drvPath`, transitively (not including it), sorted. */
export function downstream(
  rs: ReadStore,
  drvPath: string,
  opts: { limit?: number } = {},
): { drvPaths: string[]; truncated: boolean } {
  return walk(drvPath, (d) => referrersOf(rs, d), opts.limit);
}

/** Every input drv `drvPath` needs, transitively (not including it), sorted. */
export function closure(
  rs: ReadStore,
  drvPath: string,
  opts: { limit?: number } = {},
): { drvPaths: string[]; truncated: boolean } {
  return walk(drvPath, (d) => Object.keys(rs.get<GraphDoc>(GRAPH, d)?.inputDrvs ?? {}), opts.limit);
}

function walk(
  start: string,
  next: (d: string) => string[],
  limit = Infinity,
): { drvPaths: string[]; truncated: boolean } {
  if (!(limit > 0)) throw new ProjectionError('INVALID_ARGUMENT', 'limit must be a positive number');
  const seen = new Set<string>([start]);
  const stack = [start];
  let truncated = false;
  while (stack.length > 0 && !truncated) {
    for (const n of next(stack.pop()!)) {
      if (seen.has(n)) continue;
      if (seen.size - 1 >= limit) {
        truncated = true;
        break;
      }
      seen.add(n);
      stack.push(n);
    }
  }
  seen.delete(start);
  return { drvPaths: [...seen].sort(), truncated };
}

export function attemptTrace(rs: ReadStore, drvPath: string, attemptId: string): AttemptTraceDoc | undefined {
  return rs.get<AttemptTraceDoc>(ATTEMPT_TRACE, attemptKey(drvPath, attemptId));
}

/** Every attempt of a drv, as traced. */
export function attemptsOf(rs: ReadStore, drvPath: string): AttemptTraceDoc[] {
  return [...rs.scan<AttemptTraceDoc>(ATTEMPT_TRACE, drvPath + KEY_SEP)].map(([, d]) => d);
}

/** The base build trace of one resolved output: store path -> attempts that produced it. */
export function baseTrace(rs: ReadStore, resolvedDrvPath: string, output: string): BaseTraceDoc | undefined {
  return rs.get<BaseTraceDoc>(BASE_TRACE, `${resolvedDrvPath}^${output}`);
}

/** The attempts that consumed a store path (by their reported inputs). */
export function consumersOf(rs: ReadStore, storePath: string): AttemptRef[] {
  return rs.keys(CONSUMERS, storePath + KEY_SEP).map((k) => {
    const { drvPath, attemptId } = parseConsumerKey(k);
    return { drvPath, attemptId };
  });
}

/** Successful attempts of drvs built on `drvPath` that reported no inputs (the graph-edge fallback). */
export function unreportedConsumersOf(rs: ReadStore, drvPath: string): AttemptRef[] {
  return rs.keys(UNREPORTED, drvPath + KEY_SEP).map((k) => {
    const { drvPath: consumer, attemptId } = parseConsumerKey(k);
    return { drvPath: consumer, attemptId };
  });
}

/** The invalidation walk's view of a read store, every lookup a seek (planInvalidation). */
export function invalidationView(rs: ReadStore): InvalidationView {
  return {
    validResults: (d) => rs.get<ValidResultsDoc>(VALID_RESULTS, d),
    consumersOf: (p) => consumersOf(rs, p),
    unreportedConsumersOf: (d) => unreportedConsumersOf(rs, d),
  };
}

/** Resolved outputs built to more than one store path: evidence of non-determinism. */
export function incoherence(rs: ReadStore): IncoherenceDoc[] {
  return [...rs.scan<IncoherenceDoc>(INCOHERENCE)].map(([, d]) => d);
}

export function group(rs: ReadStore, groupId: string): GroupOutcomeDoc | undefined {
  return rs.get<GroupOutcomeDoc>(GROUP_OUTCOME, groupId);
}

export function openGroups(rs: ReadStore): GroupOutcomeDoc[] {
  return [...rs.scan<GroupOutcomeDoc>(GROUP_OUTCOME)].map(([, d]) => d).filter((g) => g.status === 'open');
}

/** FODs that must be really fetched again: never verified with their current inputs, mismatched, or not within `olderThanMs`. */
export function fodsDue(
  rs: ReadStore,
  opts: { now: Date; olderThanMs: number },
): (FodLedgerDoc & { due: FodDueReason })[] {
  if (!(opts.olderThanMs >= 0))
    throw new ProjectionError('INVALID_ARGUMENT', 'olderThanMs must be a number >= 0');
  const out: (FodLedgerDoc & { due: FodDueReason })[] = [];
  for (const [, doc] of rs.scan<FodLedgerDoc>(FOD_LEDGER)) {
    const due = fodDue(doc, opts.now, opts.olderThanMs);
    if (due) out.push({ ...doc, due });
  }
  return out;
}
