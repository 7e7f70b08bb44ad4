import { FarmClient } from './client';
import { WireReply } from './transport';

/**
 * The service's answer to "should this farm build drvPath now?", in the shape of the DESIGN's
 * negative-cache decision. `source` says where it came from: the service's should-build query, or our
 * reading of its drv-state query where should-build is not served (then TTLs and transient backoff are
 * unknown to us: a cached failure is honoured as the service reports it, transient ones are retried).
 */
export type Verdict = (
  | { decision: 'build'; reason: string; poisoned?: boolean }
  | { decision: 'skip-valid'; reason: string }
  | { decision: 'wait-in-progress'; reason: string }
  | { decision: 'retry-after'; reason: string; retryAt: string }
  | {
      decision: 'skip-cached-failure';
      reason: string;
      status: string;
      cause: string;
      logTail: string;
      at?: string;
      until?: string;
      by: { attemptId: string; farm?: string; machine?: string };
      log?: { sha256?: string; bytes?: number };
    }
) & { source: 'should-build' | 'drv' | 'none' };

export function hashPartOf(drvPath: string): string {
  return drvPath.slice(drvPath.lastIndexOf('/') + 1, drvPath.lastIndexOf('/') + 33);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Reads a should-build reply: the decision at the top level or under `shouldBuild`. */
function fromShouldBuild(reply: Record<string, unknown>): Verdict | undefined {
  const d = (typeof reply.decision === 'string' ? reply : (reply.shouldBuild as Record<string, unknown> | undefined)) ?? {};
  const reason = str(d.reason) ?? '';
  switch (d.decision) {
    case 'build':
      return { decision: 'build', reason, poisoned: /poison|invalidat/.test(reason), source: 'should-build' };
    case 'skip-valid':
    case 'wait-in-progress':
      return { decision: d.decision, reason, source: 'should-build' };
    case 'retry-after':
      return { decision: 'retry-after', reason, retryAt: str(d.retryAt) ?? '', source: 'should-build' };
    case 'skip-cached-failure': {
      const by = (d.by as Record<string, unknown> | undefined) ?? {};
      return {
        decision: 'skip-cached-failure',
        reason,
        status: str(d.status) ?? 'unknown',
        cause: str(d.cause) ?? 'unknown',
        logTail: str(d.logTail) ?? '',
        at: str(d.at),
        until: str(d.until),
        by: { attemptId: str(by.attemptId) ?? '', farm: str(by.farm), machine: str(by.machine) },
        source: 'should-build',
      };
    }
    default:
      return undefined;
  }
}

/** Reads the drv-state query (`status`, `cachedFailure`, `attempts`) as a verdict. */
export function fromDrvState(reply: Record<string, unknown>): Verdict {
  const status = str(reply.status);
  const attempts = Array.isArray(reply.attempts) ? (reply.attempts as Record<string, unknown>[]) : [];
  const failure = reply.cachedFailure as Record<string, unknown> | null | undefined;
  if (status === 'failed' && failure) {
    const attempt = attempts.find((a) => a.attemptId === failure.attemptId) ?? {};
    const log = (failure.log as Record<string, unknown> | undefined) ?? {};
    return {
      decision: 'skip-cached-failure',
      reason: `cached ${str(failure.status)} (${str(failure.cause)})`,
      status: str(failure.status) ?? 'unknown',
      cause: str(failure.cause) ?? 'unknown',
      logTail: str(log.tail) ?? '',
      at: str(attempt.startedAt),
      by: { attemptId: str(failure.attemptId) ?? '', farm: str(attempt.farm), machine: str(attempt.machine) },
      log: { sha256: str(log.sha256), bytes: typeof log.bytes === 'number' ? log.bytes : undefined },
      source: 'drv',
    };
  }
  if (status === 'valid') return { decision: 'skip-valid', reason: 'valid', source: 'drv' };
  if (status === 'poisoned' || status === 'invalidated') return { decision: 'build', reason: `its result was ${status}`, poisoned: true, source: 'drv' };
  return { decision: 'build', reason: status === 'unknown' || !status ? 'never built' : `status ${status}`, source: 'drv' };
}

/**
 * Asks the service about each drv (a few at a time). Returns undefined for all when it cannot be
 * reached: the caller builds, as Nix alone would have.
 */
export class ShouldBuildAsker {
  private useShouldBuild = true;
  /** why the service could not be asked, when it could not */
  unreachable?: string;

  constructor(private readonly client: FarmClient) {}

  async ask(drvPath: string): Promise<Verdict | undefined> {
    const hashPart = hashPartOf(drvPath);
    if (this.useShouldBuild) {
      let d = await this.client.query('should-build', { hashPart });
      // the read models catch up in the background: wait (briefly) until they have seen our own reports
      for (let i = 0; i < 40 && d.kind === 'reply' && d.reply.ok && behind(d.reply.readModelPosition, this.client.lastPosition); i++) {
        await new Promise((r) => setTimeout(r, 50));
        d = await this.client.query('should-build', { hashPart });
      }
      if (d.kind === 'unreachable') return this.down(d.reason);
      const v = d.reply.ok ? fromShouldBuild(d.reply) : undefined;
      if (v) return v;
      if (!d.reply.ok && d.reply.error.code === 'NOT_FOUND') return { decision: 'build', reason: 'never seen', source: 'should-build' };
      // the service does not serve should-build (yet): read its drv state instead, from now on
      this.useShouldBuild = false;
    }
    const d = await this.client.query('drv', { hashPart });
    if (d.kind === 'unreachable') return this.down(d.reason);
    return readDrvReply(d.reply);
  }

  private down(reason: string): undefined {
    this.unreachable = reason;
    return undefined;
  }

  async askAll(drvPaths: string[], parallel = 32): Promise<Map<string, Verdict | undefined>> {
    const out = new Map<string, Verdict | undefined>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < drvPaths.length) {
        const p = drvPaths[next++];
        out.set(p, await this.ask(p));
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, drvPaths.length) }, worker));
    return out;
  }
}

function behind(readModelPosition: unknown, written: bigint): boolean {
  return typeof readModelPosition === 'string' && /^\d{1,20}$/.test(readModelPosition) && BigInt(readModelPosition) < written;
}

function readDrvReply(reply: WireReply): Verdict {
  if (reply.ok) return fromDrvState(reply);
  if (reply.error.code === 'NOT_FOUND') return { decision: 'build', reason: 'never seen', source: 'drv' };
  return { decision: 'build', reason: `the service could not say (${reply.error.code})`, source: 'none' };
}

/** What a user sees for a cached failure: when, where, status, cause and the end of the log. */
export function describeCachedFailure(drvPath: string, v: Extract<Verdict, { decision: 'skip-cached-failure' }>): string {
  const where = [v.by.farm && `farm ${v.by.farm}`, v.by.machine && `machine ${v.by.machine}`].filter(Boolean).join(', ') || 'unknown';
  const tail = v.logTail
    .trimEnd()
    .split('\n')
    .slice(-25)
    .map((l) => `    ${l}`)
    .join('\n');
  return [
    `${drvPath} failed before; the failure is cached:`,
    `  when:   ${v.at ?? 'unknown'}${v.until ? ` (cached until ${v.until})` : ''}`,
    `  where:  ${where}${v.by.attemptId ? ` (attempt ${v.by.attemptId})` : ''}`,
    `  status: ${v.status} (cause: ${v.cause})`,
    `  log tail:`,
    tail || '    (empty)',
  ].join('\n');
}
