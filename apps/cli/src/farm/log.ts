import { FarmClient } from './client';
import { readBuildLog } from './nix-store';
import { hashPartOf } from './should-build';

/**
 * A derivation's build log, as `nix log` prints it: the service keeps the full log of each failed
 * attempt (content-addressed, over HTTP) and its tail in the event; a log Nix kept on this machine is
 * the fallback (successful builds' logs are only there).
 */
export interface FoundLog {
  source: 'service' | 'service-tail' | 'local';
  attemptId?: string;
  text: string;
}

interface WireEvent {
  type: string;
  data: { attemptId?: string; log?: { sha256?: string; tail?: string } };
}

export async function findLog(client: FarmClient, drvPath: string, opts: { attemptId?: string; httpUrl?: string }): Promise<FoundLog | { error: string }> {
  const d = await client.query('events', { hashPart: hashPartOf(drvPath) });
  const events = d.kind === 'reply' && d.reply.ok ? ((d.reply.events as WireEvent[] | undefined) ?? []) : [];
  const failures = events.filter((e) => e.type === 'AttemptFailed' && (!opts.attemptId || e.data.attemptId === opts.attemptId));
  const failure = failures[failures.length - 1];
  if (failure?.data.log?.sha256) {
    const base = opts.httpUrl ?? (/^https?:/.test(client.settings.serviceUrl) ? client.settings.serviceUrl : undefined);
    if (base) {
      try {
        const res = await fetch(`${base.replace(/\/+$/, '')}/v1/logs/${failure.data.log.sha256}`, { signal: AbortSignal.timeout(client.settings.timeoutMs) });
        if (res.ok) return { source: 'service', attemptId: failure.data.attemptId, text: await res.text() };
      } catch {
        /* the tail below */
      }
    }
    return { source: 'service-tail', attemptId: failure.data.attemptId, text: failure.data.log.tail ?? '' };
  }
  if (opts.attemptId) {
    if (d.kind === 'unreachable') return { error: `cannot reach the service: ${d.reason}` };
    return { error: `no failed attempt ${opts.attemptId} of ${drvPath} is recorded (only failures' logs are kept by the service)` };
  }
  const local = await readBuildLog(drvPath);
  if (local !== undefined) return { source: 'local', text: local };
  return { error: `no build log for ${drvPath}${d.kind === 'unreachable' ? ` (the service is unreachable: ${d.reason})` : ''}` };
}
