/** Shared by the drv decider's parts: how a decision is written, and the checks every command starts with. */
import { Decided } from '../commands';
import { DrvEvent } from '../events/types';
import { DomainError, Result, fail, ok } from '../result';
import { AttemptState, DrvState, attemptOf } from './state';

export { sameJson } from '../check';

export type DrvDecision = Decided<DrvEvent>;

export const accept = (...events: DrvEvent[]): DrvDecision => ok({ events });
export const repeatOf = (event: DrvEvent): DrvDecision => ok({ events: [], duplicateOf: event });
export const noop = (why: string): DrvDecision => ok({ events: [], noop: why });
export const err = (e: DomainError): DrvDecision => ({ ok: false, error: e });

export function requireRegistered(state: DrvState, drvPath: string): DomainError | null {
  if (state.registered === null)
    return { code: 'NOT_FOUND', message: `derivation ${drvPath} is not registered`, details: { drvPath } };
  if (state.registered.data.drvPath !== drvPath) {
    // the service loaded the wrong stream: refuse rather than write one drv's facts into another's
    return {
      code: 'INVALID_ARGUMENT',
      message: `drvPath ${drvPath} does not belong to this stream (${state.registered.data.drvPath})`,
      details: { field: 'drvPath', drvPath, streamDrvPath: state.registered.data.drvPath },
    };
  }
  return null;
}

/** The attempt, reported by the farm that started it. */
export function requireAttempt(
  state: DrvState,
  data: { drvPath: string; attemptId: string; farm?: string },
): Result<AttemptState> {
  const notRegistered = requireRegistered(state, data.drvPath);
  if (notRegistered) return { ok: false, error: notRegistered };
  const attempt = attemptOf(state, data.attemptId);
  if (!attempt)
    return fail('NOT_FOUND', `attempt ${data.attemptId} of ${data.drvPath} was never started`, {
      attemptId: data.attemptId,
    });
  if (data.farm !== undefined && attempt.started.data.farm !== data.farm) {
    return fail(
      'PERMISSION_DENIED',
      `attempt ${data.attemptId} belongs to farm ${attempt.started.data.farm}, not ${data.farm}`,
      {
        attemptId: data.attemptId,
        farm: data.farm,
      },
    );
  }
  return ok(attempt);
}
