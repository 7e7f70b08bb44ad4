/**
 * The derivation decider: a drv's lifecycle in pure functions. Registration (register.ts), attempts
 * (start, resolve, succeed or fail, once), poisoning and invalidation of results, clearing a cached
 * failure, FOD checks.
 */
import { Check } from '../check';
import { Decision, makeEvent } from '../commands';
import { AttemptFailed, AttemptSucceeded } from '../events/types';
import { decideChecked } from '../decide-checked';
import { classifyFailure } from '../failure/classify';
import { idempotencyKeys as keys } from '../ids';
import { fail } from '../result';
import {
  ClearFailure,
  DRV_COMMAND_SCHEMAS,
  DrvCommand,
  FailAttempt,
  InvalidateResult,
  PoisonResult,
  RecordFodVerification,
  ResolveAttempt,
  StartAttempt,
  SucceedAttempt,
} from './commands';
import { declaredFodHash, inputRealisationsProblem, normaliseHash, outputsProblem } from './checks';
import {
  DrvDecision,
  accept,
  err,
  noop,
  repeatOf,
  requireAttempt,
  requireRegistered,
  sameJson,
} from './guards';
import { register } from './register';
import {
  AttemptState,
  DrvState,
  attemptOf,
  initialDrvState,
  evolveDrv,
  succeededAttempts,
  validAttempts,
} from './state';

export { registrationDrvPath } from './register';

function start(state: DrvState, { data, metadata }: StartAttempt): DrvDecision {
  const notRegistered = requireRegistered(state, data.drvPath);
  if (notRegistered) return err(notRegistered);
  const event = makeEvent(
    'AttemptStarted',
    { ...data, startedAt: data.startedAt ?? metadata.recordedAt },
    keys.attempt(data.drvPath, data.attemptId, 'AttemptStarted'),
    metadata,
  );
  const existing = attemptOf(state, data.attemptId);
  if (existing) {
    const { startedAt: _a, ...before } = existing.started.data;
    const { startedAt: _b, ...now } = event.data;
    if (
      sameJson(before, now) &&
      (data.startedAt === undefined || data.startedAt === existing.started.data.startedAt)
    ) {
      return repeatOf(existing.started);
    }
    return fail('CONFLICT', `attempt ${data.attemptId} was already started differently`, {
      attemptId: data.attemptId,
      original: existing.started.id,
    });
  }
  return accept(event);
}

/**
 * What the farm reported, without what the decider derived (the classification, which a newer rule
 * table may decide differently) or the time (a retry may carry a fresh default finishedAt).
 */
function reportedOutcome(event: AttemptSucceeded | AttemptFailed): unknown {
  if (event.type === 'AttemptSucceeded') {
    const { outputs, inputRealisations, substituted } = event.data;
    return { type: event.type, outputs, inputRealisations, substituted: substituted ?? false };
  }
  const { status, exitCode, log } = event.data;
  return { type: event.type, status, exitCode, log };
}

/** An attempt ends once: an identical repeat returns the original event, anything else is a CONFLICT. */
function alreadyEnded(attempt: AttemptState, ending: AttemptSucceeded | AttemptFailed): DrvDecision | null {
  const ended = attempt.ended;
  if (!ended) return null;
  if (sameJson(reportedOutcome(ended), reportedOutcome(ending))) return repeatOf(ended);
  return fail('CONFLICT', `attempt ${ending.data.attemptId} already ended (${ended.type})`, {
    attemptId: ending.data.attemptId,
    original: ended.id,
    originalType: ended.type,
  });
}

function succeed(state: DrvState, { data, metadata }: SucceedAttempt): DrvDecision {
  const attempt = requireAttempt(state, data);
  if (!attempt.ok) return attempt;
  const { farm: _farm, ...rest } = data;
  const event = makeEvent(
    'AttemptSucceeded',
    { ...rest, finishedAt: data.finishedAt ?? metadata.recordedAt },
    keys.attempt(data.drvPath, data.attemptId, 'AttemptSucceeded'),
    metadata,
  );
  const ended = alreadyEnded(attempt.value, event);
  if (ended) return ended;
  const registered = state.registered!;
  const problem =
    outputsProblem(registered, data.outputs) ??
    (data.inputRealisations
      ? inputRealisationsProblem(registered, data.inputRealisations, 'inputRealisations', false)
      : null);
  return problem ? err(problem) : accept(event);
}

function failAttempt(state: DrvState, { data, metadata }: FailAttempt): DrvDecision {
  const attempt = requireAttempt(state, data);
  if (!attempt.ok) return attempt;
  const { cause, transient, cache } = classifyFailure({
    status: data.status,
    exitCode: data.exitCode,
    logTail: data.log.tail,
  });
  const failed: AttemptFailed['data'] = {
    drvPath: data.drvPath,
    attemptId: data.attemptId,
    status: data.status,
    ...(data.exitCode !== undefined ? { exitCode: data.exitCode } : {}),
    cause,
    transient,
    cache,
    log: data.log,
    finishedAt: data.finishedAt ?? metadata.recordedAt,
  };
  const event = makeEvent(
    'AttemptFailed',
    failed,
    keys.attempt(data.drvPath, data.attemptId, 'AttemptFailed'),
    metadata,
  );
  return alreadyEnded(attempt.value, event) ?? accept(event);
}

function resolve(state: DrvState, { data, metadata }: ResolveAttempt): DrvDecision {
  const attempt = requireAttempt(state, data);
  if (!attempt.ok) return attempt;
  const { farm: _farm, ...rest } = data;
  const event = makeEvent(
    'AttemptResolved',
    rest,
    keys.attempt(data.drvPath, data.attemptId, 'AttemptResolved'),
    metadata,
  );
  const resolved = attempt.value.resolved;
  if (resolved) {
    if (sameJson(resolved.data, event.data)) return repeatOf(resolved);
    return fail(
      'CONFLICT',
      `attempt ${data.attemptId} was already resolved to ${resolved.data.resolvedDrvPath}`,
      {
        attemptId: data.attemptId,
        original: resolved.id,
      },
    );
  }
  const problem = inputRealisationsProblem(
    state.registered!,
    data.inputRealisations,
    'inputRealisations',
    true,
  );
  return problem ? err(problem) : accept(event);
}

/**
 * Poisoning cancels successful results and bumps the serial. A result already poisoned is not poisoned
 * again (the repeat returns the poisoning that took it down); a drv that never succeeded cannot be poisoned.
 */
function poison(state: DrvState, { data, metadata }: PoisonResult): DrvDecision {
  const notRegistered = requireRegistered(state, data.drvPath);
  if (notRegistered) return err(notRegistered);
  const succeeded = succeededAttempts(state);
  let targets = succeeded;
  const scope = data.scope;
  if (scope?.kind === 'attempt') {
    const attempt = attemptOf(state, scope.attemptId);
    if (!attempt || attempt.ended?.type !== 'AttemptSucceeded') {
      return fail('FAILED_PRECONDITION', `attempt ${scope.attemptId} has no successful result to poison`, {
        attemptId: scope.attemptId,
      });
    }
    targets = succeeded.filter((a) => a.started.data.attemptId === scope.attemptId);
  } else if (scope?.kind === 'outputs') {
    const produced = new Set(succeeded.flatMap((a) => Object.values(a.ended.data.outputs)));
    const unknown = scope.outputPaths.filter((p) => !produced.has(p));
    if (unknown.length > 0)
      return fail('FAILED_PRECONDITION', `no attempt of ${data.drvPath} produced ${unknown.join(', ')}`, {
        unknown,
      });
    targets = succeeded.filter((a) =>
      Object.values(a.ended.data.outputs).some((p) => scope.outputPaths.includes(p)),
    );
  } else if (succeeded.length === 0) {
    return fail('FAILED_PRECONDITION', `${data.drvPath} has no successful result to poison`, {
      drvPath: data.drvPath,
    });
  }
  const fresh = targets.filter((a) => !a.poisonedBy);
  if (fresh.length === 0) return repeatOf(targets[targets.length - 1].poisonedBy!);
  const serial = state.serial + 1;
  const attemptIds = fresh.map((a) => a.started.data.attemptId).sort();
  const outputPaths = [...new Set(fresh.flatMap((a) => Object.values(a.ended.data.outputs)))].sort();
  return accept(
    makeEvent(
      'ResultPoisoned',
      {
        drvPath: data.drvPath,
        serial,
        reason: data.reason,
        scope: scope ?? { kind: 'outputs', outputPaths },
        cause: data.cause,
        attemptIds,
        outputPaths,
      },
      keys.resultPoisoned(data.drvPath, serial),
      metadata,
    ),
  );
}

/** Idempotent per root event; with nothing valid left to invalidate it is a no-op. */
function invalidate(state: DrvState, { data, metadata }: InvalidateResult): DrvDecision {
  const notRegistered = requireRegistered(state, data.drvPath);
  if (notRegistered) return err(notRegistered);
  if (data.because.drvPath === data.drvPath) {
    return fail(
      'INVALID_ARGUMENT',
      'because.drvPath: a result is poisoned, not invalidated, by its own drv',
      { field: 'because.drvPath' },
    );
  }
  let candidates = validAttempts(state);
  if (data.attemptIds) {
    const unknown = data.attemptIds.filter((id) => attemptOf(state, id)?.ended?.type !== 'AttemptSucceeded');
    if (unknown.length > 0)
      return fail('NOT_FOUND', `no successful attempt ${unknown.join(', ')} of ${data.drvPath}`, { unknown });
    candidates = candidates.filter((a) => data.attemptIds!.includes(a.started.data.attemptId));
  }
  // A retry finds its attempts already invalidated; a later attempt that consumed the same poisoned
  // output is still valid and is invalidated by the same root (its own event id).
  const earlier = state.invalidations[data.because.rootEventId];
  if (earlier && candidates.length === 0) return repeatOf(earlier);
  if (candidates.length === 0) return noop(`${data.drvPath} has no valid result left to invalidate`);
  const attemptIds = candidates.map((a) => a.started.data.attemptId).sort();
  const outputPaths = [
    ...new Set(candidates.flatMap((a) => Object.values((a.ended as AttemptSucceeded).data.outputs))),
  ].sort();
  return accept(
    makeEvent(
      'ResultInvalidated',
      { drvPath: data.drvPath, serial: state.serial, because: data.because, attemptIds, outputPaths },
      keys.resultInvalidated(data.because.rootEventId, data.drvPath, attemptIds),
      metadata,
    ),
  );
}

function clear(state: DrvState, { data, metadata }: ClearFailure): DrvDecision {
  const notRegistered = requireRegistered(state, data.drvPath);
  if (notRegistered) return err(notRegistered);
  if (state.cachedFailure === null) return noop(`${data.drvPath} has no cached failure`);
  const attemptId = state.cachedFailure.data.attemptId;
  return accept(
    makeEvent(
      'FailureCleared',
      { ...data, attemptId },
      keys.failureCleared(data.drvPath, attemptId),
      metadata,
    ),
  );
}

function verifyFod(state: DrvState, { data, metadata }: RecordFodVerification): DrvDecision {
  const attempt = requireAttempt(state, data);
  if (!attempt.ok) return attempt;
  const declared = declaredFodHash(state.registered!);
  if (declared === null)
    return fail('FAILED_PRECONDITION', `${data.drvPath} is not a fixed-output derivation`, {
      drvPath: data.drvPath,
    });
  const expected = normaliseHash(data.expectedHash);
  const actual = normaliseHash(data.actualHash);
  if (expected === null)
    return fail('INVALID_ARGUMENT', 'expectedHash: not a hash as Nix prints it', { field: 'expectedHash' });
  if (actual === null)
    return fail('INVALID_ARGUMENT', 'actualHash: not a hash as Nix prints it', { field: 'actualHash' });
  if (expected !== declared) {
    return fail('INVALID_ARGUMENT', `expectedHash: the derivation declares ${declared}`, {
      field: 'expectedHash',
      declared,
      got: expected,
    });
  }
  const type = actual === expected ? 'FodVerified' : 'FodMismatch';
  const event = makeEvent(
    type,
    {
      drvPath: data.drvPath,
      attemptId: data.attemptId,
      outputHash: { expected, actual },
      inputsFingerprint: data.inputsFingerprint,
    },
    keys.attempt(data.drvPath, data.attemptId, 'FodVerification'),
    metadata,
  );
  const earlier = attempt.value.fodVerification;
  if (earlier) {
    if (earlier.type === event.type && sameJson(earlier.data, event.data)) return repeatOf(earlier);
    return fail('CONFLICT', `attempt ${data.attemptId} already recorded ${earlier.type}`, {
      attemptId: data.attemptId,
      original: earlier.id,
    });
  }
  return accept(event);
}

function decideValid(command: DrvCommand, state: DrvState): DrvDecision {
  switch (command.type) {
    case 'RegisterDerivation':
      return register(state, command);
    case 'StartAttempt':
      return start(state, command);
    case 'SucceedAttempt':
      return succeed(state, command);
    case 'FailAttempt':
      return failAttempt(state, command);
    case 'ResolveAttempt':
      return resolve(state, command);
    case 'PoisonResult':
      return poison(state, command);
    case 'InvalidateResult':
      return invalidate(state, command);
    case 'ClearFailure':
      return clear(state, command);
    case 'RecordFodVerification':
      return verifyFod(state, command);
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
}

/**
 * Validates the command, decides, and validates the resulting events, so nothing malformed is ever
 * appended. Never throws for bad input: every refusal is a DomainError.
 */
export function decideDrv(command: DrvCommand, state: DrvState): DrvDecision {
  return decideChecked(DRV_COMMAND_SCHEMAS as Record<string, Check<unknown>>, command, (c) => decideValid(c, state));
}

export const drvDecider = {
  decide: decideDrv,
  evolve: evolveDrv,
  initialState: initialDrvState,
};

export type { Decision };
