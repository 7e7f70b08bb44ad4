import { CommandName, LIMITS } from '@buildgraph/contracts';
import { v5 as uuidv5 } from 'uuid';

/**
 * The reports a farm sends, as plain wire payloads (field names are the wire contract's). Each is built
 * once and queued as exact bytes, so every retry sends the same body and gets the same answer.
 */
export interface Report {
  command: CommandName;
  payload: object;
  /** signed with the evaluator key instead of the farm's (drv.register) */
  signer?: 'register';
}

export interface Reporter {
  farm: string;
  machine: string;
}

/** Namespace of attempt ids derived from a build's identity (hook reports), fixed forever. */
const ATTEMPT_NAMESPACE = '0b6f3f0e-5f3c-4c1e-9a52-6a1f4c7d2b90';

/**
 * The attempt id of a build known only by its result (the post-build hook): the same drvPath, output
 * paths and registration time on the same farm and machine always give the same id, so Nix running the
 * hook again for the same build reports the same attempt.
 */
export function derivedAttemptId(r: Reporter, drvPath: string, outPaths: string[], registeredAt: string): string {
  const key = [r.farm, r.machine, drvPath, ...[...outPaths].sort(), registeredAt].join('\n');
  return `hook-${uuidv5(key, ATTEMPT_NAMESPACE)}`;
}

/** Registration is an evaluator's command: it goes out signed with the register key, when one is configured. */
export function registerDrv(aterm: string, drvPath: string): Report {
  return { command: 'drv.register', payload: { drvPath, aterm }, signer: 'register' };
}

/**
 * A farm key may not send drv.register (evaluators register); a farm's first report of an attempt
 * carries the drv's ATerm instead, and the service registers it on the way (checking the path).
 */
function withAterm(payload: Record<string, unknown>, aterm: string | undefined): Record<string, unknown> {
  return aterm === undefined ? payload : { ...payload, aterm };
}

export function startAttempt(r: Reporter, a: { attemptId: string; drvPath: string; startedAt: string; aterm?: string }): Report {
  return {
    command: 'attempt.start',
    payload: withAterm({ attemptId: a.attemptId, drvPath: a.drvPath, farm: r.farm, machine: r.machine, startedAt: a.startedAt }, a.aterm),
  };
}

export function succeedAttempt(
  r: Reporter,
  a: { attemptId: string; drvPath: string; outputs: Record<string, string>; inputRealisations?: Record<string, string>; finishedAt: string; aterm?: string },
): Report {
  const payload: Record<string, unknown> = { attemptId: a.attemptId, drvPath: a.drvPath, farm: r.farm, machine: r.machine, outputs: a.outputs };
  if (a.inputRealisations && Object.keys(a.inputRealisations).length > 0) payload.inputRealisations = a.inputRealisations;
  payload.finishedAt = a.finishedAt;
  return { command: 'attempt.succeed', payload: withAterm(payload, a.aterm) };
}

/** Keeps the end of a log within the wire's limit: the end is where a failure's cause is. */
export function boundedLog(log: string, maxBytes: number = LIMITS.logBytes / 2): string {
  const bytes = Buffer.from(log, 'utf8');
  if (bytes.length <= maxBytes) return log;
  // half the wire limit: JSON escaping of control characters can double a log's size on the wire
  const note = `[buildgraph: the first ${bytes.length - maxBytes} bytes of this log were dropped]\n`;
  return note + bytes.subarray(bytes.length - maxBytes).toString('utf8').replace(/^\uFFFD+/, '');
}

export function failAttempt(
  r: Reporter,
  a: { attemptId: string; drvPath: string; status: string; exitCode?: number; log: string; finishedAt: string },
): Report {
  const payload: Record<string, unknown> = { attemptId: a.attemptId, drvPath: a.drvPath, farm: r.farm, machine: r.machine, status: a.status };
  if (a.exitCode !== undefined) payload.exitCode = a.exitCode;
  payload.log = boundedLog(a.log);
  payload.finishedAt = a.finishedAt;
  return { command: 'attempt.fail', payload };
}

export function resolveAttempt(r: Reporter, a: { attemptId: string; drvPath: string; inputRealisations: Record<string, string>; aterm?: string }): Report {
  return { command: 'attempt.resolve', payload: withAterm({ attemptId: a.attemptId, drvPath: a.drvPath, farm: r.farm, inputRealisations: a.inputRealisations }, a.aterm) };
}
