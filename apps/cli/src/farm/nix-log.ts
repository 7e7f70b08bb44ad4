/**
 * Nix's machine-readable log (`--log-format internal-json`): each line `@nix {json}` is an activity
 * start/stop, a result on an activity, or a message. Pure: lines in, build events out.
 * Types and fields are Nix's (libutil/logging.hh, libstore/build/derivation-goal.cc, Nix 2.8).
 */

/** ActivityType */
export const ACT_BUILD = 105;
export const ACT_BUILD_WAITING = 111;
/** ResultType */
export const RES_BUILD_LOG_LINE = 101;
export const RES_POST_BUILD_LOG_LINE = 107;

export type NixLogEvent =
  /** Nix started building drvPath (for a CA derivation: its resolved twin) */
  | { type: 'build-started'; activity: number; drvPath: string; machine: string; text: string }
  | { type: 'build-log'; drvPath: string; line: string }
  | { type: 'build-stopped'; drvPath: string }
  /** a derivation failed: Nix's error message, with the BuildResult status it implies */
  | { type: 'build-failed'; drvPath: string; message: string; status: string; exitCode?: number }
  /** `resolved derivation: 'A' -> 'B'` */
  | { type: 'resolved'; drvPath: string; resolvedDrvPath: string }
  /** any other message meant for the user, and non-JSON stderr lines */
  | { type: 'message'; level: number; text: string };

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const DRV_IN_QUOTES = /'(\/[^']+\.drv)'/;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/**
 * The BuildResult status Nix gives a failure, from its message (DerivationGoal::buildDone and friends):
 * a builder that ran and failed is PermanentFailure (TransientFailure for a fixed-output derivation),
 * one that exited 0 but whose outputs were refused is OutputRejected.
 */
export function failureStatus(message: string, fixedOutput: boolean): { status: string; exitCode?: number } | undefined {
  const exit = /failed with exit code (\d+)/.exec(message);
  if (exit) return { status: fixedOutput ? 'TransientFailure' : 'PermanentFailure', exitCode: Number(exit[1]) };
  if (/failed due to signal \d+/.test(message)) return { status: fixedOutput ? 'TransientFailure' : 'PermanentFailure' };
  if (/timed out after \d+ seconds/.test(message)) return { status: 'TimedOut' };
  if (/killed after writing more than \d+ bytes of log output/.test(message)) return { status: 'LogLimitExceeded' };
  if (/may not be deterministic|not deterministic/.test(message)) return { status: 'NotDeterministic' };
  if (/hash mismatch in fixed-output derivation|failed to produce output path|output .* is not allowed to refer to|is not allowed to refer to/.test(message)) {
    return { status: 'OutputRejected' };
  }
  if (/dependencies couldn't be built|dependency failed/.test(message)) return { status: 'DependencyFailed' };
  if (/^builder for '/.test(message) || /^building of '/.test(message)) return { status: 'MiscFailure' };
  return undefined;
}

interface RawLine {
  action?: string;
  id?: number;
  type?: number;
  level?: number;
  text?: string;
  msg?: string;
  raw_msg?: string;
  fields?: unknown[];
}

/** Stateful across lines only to map activity ids to the derivation they build. */
export class NixLogParser {
  private readonly builds = new Map<number, string>();

  constructor(private readonly isFixedOutput: (drvPath: string) => boolean = () => false) {}

  /** One line of Nix's stderr -> zero or more events. Never throws: a garbled line is a message. */
  parse(line: string): NixLogEvent[] {
    if (!line.startsWith('@nix ')) return line.trim() === '' ? [] : [{ type: 'message', level: 0, text: line }];
    let v: RawLine;
    try {
      v = JSON.parse(line.slice(5)) as RawLine;
    } catch {
      return [{ type: 'message', level: 0, text: line }];
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return [{ type: 'message', level: 0, text: line }];
    const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
    const num = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);
    v = { action: str(v.action), id: num(v.id), type: num(v.type), level: num(v.level), text: str(v.text), msg: str(v.msg), raw_msg: str(v.raw_msg), fields: v.fields };
    const fields = Array.isArray(v.fields) ? v.fields : [];
    switch (v.action) {
      case 'start': {
        if (v.type === ACT_BUILD && typeof fields[0] === 'string' && typeof v.id === 'number') {
          this.builds.set(v.id, fields[0]);
          return [{ type: 'build-started', activity: v.id, drvPath: fields[0], machine: typeof fields[1] === 'string' ? fields[1] : '', text: v.text ?? '' }];
        }
        if (v.type === ACT_BUILD_WAITING) {
          // fields: [drvPath, resolvedDrvPath] when Nix resolved a CA derivation
          const text = stripAnsi(v.text ?? '');
          const m = /resolved derivation: '([^']+)' -> '([^']+)'/i.exec(text);
          const from = typeof fields[0] === 'string' ? fields[0] : m?.[1];
          const to = typeof fields[1] === 'string' ? fields[1] : m?.[2];
          if (from && to && from !== to) return [{ type: 'resolved', drvPath: from, resolvedDrvPath: to }];
          return [];
        }
        return v.text && (v.level ?? 9) <= 3 ? [{ type: 'message', level: v.level ?? 3, text: stripAnsi(v.text) }] : [];
      }
      case 'stop': {
        const drvPath = typeof v.id === 'number' ? this.builds.get(v.id) : undefined;
        if (drvPath === undefined) return [];
        this.builds.delete(v.id as number);
        return [{ type: 'build-stopped', drvPath }];
      }
      case 'result': {
        const drvPath = typeof v.id === 'number' ? this.builds.get(v.id) : undefined;
        if (drvPath && (v.type === RES_BUILD_LOG_LINE || v.type === RES_POST_BUILD_LOG_LINE) && typeof fields[0] === 'string') {
          return [{ type: 'build-log', drvPath, line: fields[0] }];
        }
        return [];
      }
      case 'msg': {
        const text = stripAnsi(v.raw_msg ?? v.msg ?? '');
        const level = v.level ?? 0;
        const drv = DRV_IN_QUOTES.exec(text)?.[1];
        if (level === 0 && drv) {
          const status = failureStatus(text, this.isFixedOutput(drv));
          if (status) return [{ type: 'build-failed', drvPath: drv, message: text, ...status }];
        }
        return [{ type: 'message', level, text: stripAnsi(v.msg ?? text) }];
      }
      default:
        return [];
    }
  }
}
