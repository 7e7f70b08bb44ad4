/**
 * A derivation's aggregate state: only what `decide` needs to enforce its invariants. Read models
 * (projections) are built elsewhere from the same events.
 */
import {
  AttemptFailed,
  AttemptResolved,
  AttemptStarted,
  AttemptSucceeded,
  DerivationRegistered,
  DrvEvent,
  FailureCleared,
  FodMismatch,
  FodVerified,
  ResultInvalidated,
  ResultPoisoned,
} from '../events/types';

export interface AttemptState {
  started: AttemptStarted;
  resolved?: AttemptResolved;
  /** an attempt ends once */
  ended?: AttemptSucceeded | AttemptFailed;
  /** for a success: what took its result down, if anything */
  poisonedBy?: ResultPoisoned;
  invalidatedBy?: ResultInvalidated;
  fodVerification?: FodVerified | FodMismatch;
}

export interface DrvState {
  registered: DerivationRegistered | null;
  attempts: Readonly<Record<string, AttemptState>>;
  /** bumped by each poisoning; 0 until the first */
  serial: number;
  poisonings: readonly ResultPoisoned[];
  /** by rootEventId: one invalidation per root event */
  invalidations: Readonly<Record<string, ResultInvalidated>>;
  /** the failure the negative cache holds (cache decision 'cache'), until a success or a clear */
  cachedFailure: AttemptFailed | null;
  lastCleared: FailureCleared | null;
}

export function initialDrvState(): DrvState {
  return {
    registered: null,
    attempts: {},
    serial: 0,
    poisonings: [],
    invalidations: {},
    cachedFailure: null,
    lastCleared: null,
  };
}

function withAttempt(
  state: DrvState,
  attemptId: string,
  change: (a: AttemptState) => AttemptState,
): DrvState {
  const current = attemptOf(state, attemptId);
  // evolve is total: an event about an unknown attempt (impossible through decide) leaves state as is
  if (!current) return state;
  return { ...state, attempts: { ...state.attempts, [attemptId]: change(current) } };
}

export function evolveDrv(state: DrvState, event: DrvEvent): DrvState {
  switch (event.type) {
    case 'DerivationRegistered':
      return { ...state, registered: event };
    case 'AttemptStarted':
      return { ...state, attempts: { ...state.attempts, [event.data.attemptId]: { started: event } } };
    case 'AttemptSucceeded': {
      const next = withAttempt(state, event.data.attemptId, (a) => ({ ...a, ended: event }));
      return { ...next, cachedFailure: null };
    }
    case 'AttemptFailed': {
      const next = withAttempt(state, event.data.attemptId, (a) => ({ ...a, ended: event }));
      // a later transient failure does not disprove a cached permanent one
      return event.data.cache === 'cache' ? { ...next, cachedFailure: event } : next;
    }
    case 'AttemptResolved':
      return withAttempt(state, event.data.attemptId, (a) => ({ ...a, resolved: event }));
    case 'ResultPoisoned': {
      let next: DrvState = { ...state, serial: event.data.serial, poisonings: [...state.poisonings, event] };
      for (const attemptId of event.data.attemptIds)
        next = withAttempt(next, attemptId, (a) => ({ ...a, poisonedBy: event }));
      return next;
    }
    case 'ResultInvalidated': {
      let next: DrvState = {
        ...state,
        invalidations: { ...state.invalidations, [event.data.because.rootEventId]: event },
      };
      for (const attemptId of event.data.attemptIds)
        next = withAttempt(next, attemptId, (a) => ({ ...a, invalidatedBy: event }));
      return next;
    }
    case 'FailureCleared':
      return { ...state, cachedFailure: null, lastCleared: event };
    case 'FodVerified':
    case 'FodMismatch':
      return withAttempt(state, event.data.attemptId, (a) => ({ ...a, fodVerification: event }));
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

export function attemptOf(state: DrvState, attemptId: string): AttemptState | undefined {
  return Object.prototype.hasOwnProperty.call(state.attempts, attemptId)
    ? state.attempts[attemptId]
    : undefined;
}

/** Successful attempts whose result has been neither poisoned nor invalidated. */
export function validAttempts(state: DrvState): AttemptState[] {
  return Object.values(state.attempts).filter(
    (a) => a.ended?.type === 'AttemptSucceeded' && !a.poisonedBy && !a.invalidatedBy,
  );
}

export function succeededAttempts(state: DrvState): Array<AttemptState & { ended: AttemptSucceeded }> {
  return Object.values(state.attempts).filter(
    (a): a is AttemptState & { ended: AttemptSucceeded } => a.ended?.type === 'AttemptSucceeded',
  );
}
