/**
 * drv state: what a farm operator asks first about a derivation. Is it valid (and with which outputs),
 * building, failed (and is that failure cached), poisoned or invalidated; its serial; recent attempts;
 * which farms built it. One document per drvPath. The negative cache (negative-cache.ts) reads it.
 */
import { DRV_EVENT_TYPES, type DomainEvent, type DrvEvent } from '../events/types';
import type { FailureCache, FailureCause, FailureStatus } from '../failure/classify';
import { NO_KEYS, ReadModel, sortedAdd } from './read-model';

export const DRV_STATE = 'drv-state';

export type DrvStatus = 'unknown' | 'building' | 'valid' | 'failed' | 'poisoned' | 'invalidated';
export type AttemptOutcome = 'building' | 'succeeded' | 'failed' | 'poisoned' | 'invalidated';

export interface AttemptSummary {
  attemptId: string;
  farm: string;
  machine: string;
  startedAt: string;
  groupId?: string;
  outcome: AttemptOutcome;
  finishedAt?: string;
  resolvedDrvPath?: string;
}

/** A successful attempt whose outputs are still trusted. */
export interface ValidResult {
  outputs: Record<string, string>;
  finishedAt: string;
  /** false when the farm did not report inputRealisations: invalidation then follows graph edges */
  inputsReported: boolean;
}

export interface CachedFailure {
  attemptId: string;
  status: FailureStatus;
  cause: FailureCause;
  transient: boolean;
  cache: FailureCache;
  exitCode?: number;
  logTail: string;
  logSha256: string;
  at: string;
  farm?: string;
  machine?: string;
}

export interface DrvStateDoc {
  drvPath: string;
  registered: boolean;
  name?: string;
  system?: string;
  status: DrvStatus;
  serial: number;
  /** attemptId -> result, for the results still trusted */
  results: Record<string, ValidResult>;
  /** the outputs of the most recent valid result */
  validOutputs: Record<string, string>;
  inProgress: readonly string[];
  /** the most recent attempts, oldest first (at most RECENT_ATTEMPTS, plus any still building) */
  attempts: readonly AttemptSummary[];
  /** farms that reported an attempt of it */
  farms: readonly string[];
  /** the last failure, while nothing has succeeded or cleared it since */
  failure?: CachedFailure;
  /** transient failures since the last success or clear: drives the retry backoff */
  transientFailures: number;
  lastSucceededAt?: string;
  lastOutcome?: 'failed' | 'poisoned' | 'invalidated';
  poisoned?: { serial: number; reason: string; cause: string; at: string; eventId: string };
  invalidated?: { because: { drvPath: string; outputPath: string; rootEventId: string }; at: string };
  cleared?: { by: string; reason: string; at: string };
}

export const RECENT_ATTEMPTS = 10;

export function emptyDrvState(drvPath: string): DrvStateDoc {
  return {
    drvPath,
    registered: false,
    status: 'unknown',
    serial: 0,
    results: {},
    validOutputs: {},
    inProgress: [],
    attempts: [],
    farms: [],
    transientFailures: 0,
  };
}

function statusOf(d: DrvStateDoc): DrvStatus {
  if (Object.keys(d.results).length > 0) return 'valid';
  if (d.inProgress.length > 0) return 'building';
  return d.lastOutcome ?? 'unknown';
}

/** validOutputs: the outputs of the latest (by finishedAt, then attemptId) remaining valid result. */
function latestOutputs(results: Record<string, ValidResult>): Record<string, string> {
  let best: [string, ValidResult] | undefined;
  for (const entry of Object.entries(results)) {
    if (
      !best ||
      entry[1].finishedAt > best[1].finishedAt ||
      (entry[1].finishedAt === best[1].finishedAt && entry[0] > best[0])
    )
      best = entry;
  }
  return best ? best[1].outputs : {};
}

function withAttempt(
  attempts: readonly AttemptSummary[],
  attemptId: string,
  change: (a: AttemptSummary) => AttemptSummary,
): readonly AttemptSummary[] {
  const i = attempts.findIndex((a) => a.attemptId === attemptId);
  if (i < 0) return attempts;
  const next = attempts.slice();
  next[i] = change(attempts[i]);
  return next;
}

function trimAttempts(
  attempts: readonly AttemptSummary[],
  inProgress: readonly string[],
): readonly AttemptSummary[] {
  if (attempts.length <= RECENT_ATTEMPTS) return attempts;
  let excess = attempts.length - RECENT_ATTEMPTS;
  return attempts.filter((a) => excess <= 0 || inProgress.includes(a.attemptId) || excess-- <= 0);
}

function without(list: readonly string[], value: string): readonly string[] {
  return list.includes(value) ? list.filter((v) => v !== value) : list;
}

function finish(d: DrvStateDoc): DrvStateDoc {
  d.status = statusOf(d);
  return d;
}

export function evolveDrvState(prev: DrvStateDoc | undefined, event: DrvEvent): DrvStateDoc {
  const doc: DrvStateDoc = { ...(prev ?? emptyDrvState(event.data.drvPath)) };
  switch (event.type) {
    case 'DerivationRegistered': {
      const e = event.data;
      doc.registered = true;
      doc.name = e.name;
      doc.system = e.system;
      return finish(doc);
    }
    case 'AttemptStarted': {
      const e = event.data;
      if (doc.attempts.some((a) => a.attemptId === e.attemptId)) return prev ?? finish(doc);
      const summary: AttemptSummary = {
        attemptId: e.attemptId,
        farm: e.farm,
        machine: e.machine,
        startedAt: e.startedAt,
        outcome: 'building',
      };
      if (e.groupId !== undefined) summary.groupId = e.groupId;
      doc.inProgress = sortedAdd(doc.inProgress, e.attemptId);
      doc.attempts = trimAttempts([...doc.attempts, summary], doc.inProgress);
      doc.farms = sortedAdd(doc.farms, e.farm);
      return finish(doc);
    }
    case 'AttemptResolved':
      doc.attempts = withAttempt(doc.attempts, event.data.attemptId, (a) => ({
        ...a,
        resolvedDrvPath: event.data.resolvedDrvPath,
      }));
      return finish(doc);
    case 'AttemptSucceeded': {
      const e = event.data;
      const resolved = doc.attempts.find((a) => a.attemptId === e.attemptId)?.resolvedDrvPath !== undefined;
      doc.inProgress = without(doc.inProgress, e.attemptId);
      doc.attempts = withAttempt(doc.attempts, e.attemptId, (a) => ({
        ...a,
        outcome: 'succeeded',
        finishedAt: e.finishedAt,
      }));
      // a resolved attempt reported its inputs in AttemptResolved
      const inputsReported = e.inputRealisations !== undefined || resolved;
      doc.results = {
        ...doc.results,
        [e.attemptId]: { outputs: e.outputs, finishedAt: e.finishedAt, inputsReported },
      };
      doc.validOutputs = latestOutputs(doc.results);
      // a success forgets cached failures and retry counts: Hydra does the same
      delete doc.failure;
      delete doc.lastOutcome;
      delete doc.poisoned;
      delete doc.invalidated;
      doc.transientFailures = 0;
      doc.lastSucceededAt = e.finishedAt;
      return finish(doc);
    }
    case 'AttemptFailed': {
      const e = event.data;
      const by = doc.attempts.find((a) => a.attemptId === e.attemptId);
      doc.inProgress = without(doc.inProgress, e.attemptId);
      doc.attempts = withAttempt(doc.attempts, e.attemptId, (a) => ({
        ...a,
        outcome: 'failed',
        finishedAt: e.finishedAt,
      }));
      const failure: CachedFailure = {
        attemptId: e.attemptId,
        status: e.status,
        cause: e.cause,
        transient: e.transient,
        cache: e.cache,
        logTail: e.log.tail,
        logSha256: e.log.sha256,
        at: e.finishedAt,
      };
      if (e.exitCode !== undefined) failure.exitCode = e.exitCode;
      if (by) {
        failure.farm = by.farm;
        failure.machine = by.machine;
      }
      doc.failure = failure;
      doc.transientFailures = e.cache === 'retry' ? doc.transientFailures + 1 : 0;
      doc.lastOutcome = 'failed';
      return finish(doc);
    }
    case 'ResultPoisoned': {
      const e = event.data;
      doc.serial = Math.max(doc.serial, e.serial);
      doc.results = dropResults(doc.results, e.attemptIds);
      doc.validOutputs = latestOutputs(doc.results);
      doc.attempts = markAttempts(doc.attempts, e.attemptIds, 'poisoned');
      doc.poisoned = {
        serial: e.serial,
        reason: e.reason,
        cause: e.cause,
        at: event.metadata.recordedAt,
        eventId: event.id,
      };
      doc.lastOutcome = 'poisoned';
      return finish(doc);
    }
    case 'ResultInvalidated': {
      const e = event.data;
      doc.results = dropResults(doc.results, e.attemptIds);
      doc.validOutputs = latestOutputs(doc.results);
      doc.attempts = markAttempts(doc.attempts, e.attemptIds, 'invalidated');
      doc.invalidated = { because: e.because, at: event.metadata.recordedAt };
      doc.lastOutcome = 'invalidated';
      return finish(doc);
    }
    case 'FailureCleared': {
      const e = event.data;
      delete doc.failure;
      if (doc.lastOutcome === 'failed') delete doc.lastOutcome;
      doc.transientFailures = 0;
      doc.cleared = { by: e.by, reason: e.reason, at: event.metadata.recordedAt };
      return finish(doc);
    }
    case 'FodVerified':
    case 'FodMismatch':
      return prev ?? finish(doc);
    default: {
      const never: never = event;
      return never;
    }
  }
}

function dropResults(
  results: Record<string, ValidResult>,
  attemptIds: readonly string[],
): Record<string, ValidResult> {
  if (!attemptIds.some((id) => id in results)) return results;
  const next = { ...results };
  for (const id of attemptIds) delete next[id];
  return next;
}

function markAttempts(
  attempts: readonly AttemptSummary[],
  attemptIds: readonly string[],
  outcome: AttemptOutcome,
): readonly AttemptSummary[] {
  return attempts.map((a) => (attemptIds.includes(a.attemptId) ? { ...a, outcome } : a));
}

const DRV_TYPES: ReadonlySet<string> = new Set(DRV_EVENT_TYPES);

export function isDrvEvent(event: DomainEvent): event is DrvEvent {
  return DRV_TYPES.has(event.type);
}

export const drvStateModel: ReadModel<DrvStateDoc> = {
  name: DRV_STATE,
  version: 1,
  keys: (event) => (isDrvEvent(event) ? [event.data.drvPath] : NO_KEYS),
  evolve: (doc, event) => (isDrvEvent(event) ? evolveDrvState(doc, event) : doc),
};
