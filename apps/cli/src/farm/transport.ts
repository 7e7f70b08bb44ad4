import { connect, headers, NatsConnection, NatsError } from 'nats';
import { commandSubject, CommandName, querySubject, QueryName, SIGNATURE_HEADER } from '@buildgraph/contracts';

/** A wire reply as the service sends it: `{ok: true, ...}` or `{ok: false, error: {code, message, details}}`. */
export type WireReply = { ok: true; [k: string]: unknown } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

/** What came back: the service's reply, or nothing because it could not be reached (worth retrying later). */
export type Delivery = { kind: 'reply'; reply: WireReply } | { kind: 'unreachable'; reason: string };

/**
 * The wire, as any farm client in any language would speak it: plain JSON bodies, the signature over the
 * exact bytes in the Buildgraph-Signature header. NATS request/reply or HTTP, chosen by the URL.
 */
export interface Transport {
  command(name: CommandName, body: string, signature: string): Promise<Delivery>;
  query(name: QueryName, params: Record<string, string>): Promise<Delivery>;
  close(): Promise<void>;
}

export function openTransport(url: string, timeoutMs: number): Transport {
  return /^https?:/.test(url) ? new HttpTransport(url.replace(/\/+$/, ''), timeoutMs) : new NatsTransport(url, timeoutMs);
}

function parseReply(text: string): Delivery {
  try {
    const v = JSON.parse(text) as WireReply;
    if (v && typeof v === 'object' && typeof v.ok === 'boolean') return { kind: 'reply', reply: v };
  } catch {
    /* falls through */
  }
  return { kind: 'unreachable', reason: `the service answered something that is not a wire reply: ${text.slice(0, 200)}` };
}

class NatsTransport implements Transport {
  private nc?: NatsConnection;
  /** a failed connect is not retried within this window, so a down bus costs one timeout per run, not per report */
  private downUntil = 0;
  private lastReason = '';

  constructor(
    private readonly servers: string,
    private readonly timeoutMs: number,
  ) {}

  private connecting?: Promise<NatsConnection | string>;

  /** One connection per transport: concurrent requests share the attempt to connect (a leaked one would keep the process alive). */
  private connection(): Promise<NatsConnection | string> {
    if (this.nc && !this.nc.isClosed()) return Promise.resolve(this.nc);
    if (Date.now() < this.downUntil) return Promise.resolve(this.lastReason);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<NatsConnection | string> {
    try {
      this.nc = await connect({ servers: this.servers.split(','), timeout: this.timeoutMs, reconnect: false, name: 'buildgraph-farm' });
      return this.nc;
    } catch (e) {
      this.lastReason = `cannot connect to ${this.servers}: ${(e as Error).message}`;
      this.downUntil = Date.now() + 1000;
      return this.lastReason;
    }
  }

  private async request(subject: string, body: string, signature?: string): Promise<Delivery> {
    const nc = await this.connection();
    if (typeof nc === 'string') return { kind: 'unreachable', reason: nc };
    const h = headers();
    if (signature) h.set(SIGNATURE_HEADER, signature);
    try {
      const msg = await nc.request(subject, Buffer.from(body), { timeout: this.timeoutMs, headers: h });
      return parseReply(Buffer.from(msg.data).toString('utf8'));
    } catch (e) {
      // no responders (503) = the bus is up but no service replica is; a timeout may or may not have been
      // applied, which is why every command is idempotent and safe to send again
      const code = e instanceof NatsError ? e.code : '';
      return { kind: 'unreachable', reason: code === '503' ? 'no buildgraph service is listening on the bus' : `${subject}: ${(e as Error).message}` };
    }
  }

  command(name: CommandName, body: string, signature: string): Promise<Delivery> {
    return this.request(commandSubject(name), body, signature);
  }

  query(name: QueryName, params: Record<string, string>): Promise<Delivery> {
    return this.request(querySubject(name), JSON.stringify(params));
  }

  async close(): Promise<void> {
    await this.connecting;
    if (this.nc && !this.nc.isClosed()) await this.nc.close();
  }
}

class HttpTransport implements Transport {
  constructor(
    private readonly base: string,
    private readonly timeoutMs: number,
  ) {}

  private async fetch(path: string, init: RequestInit): Promise<Delivery> {
    try {
      const res = await fetch(this.base + path, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      return parseReply(await res.text());
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      return { kind: 'unreachable', reason: `${this.base}${path}: ${cause ?? (e as Error).message}` };
    }
  }

  command(name: CommandName, body: string, signature: string): Promise<Delivery> {
    return this.fetch(`/v1/${name}`, { method: 'POST', body, headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature } });
  }

  /** Only the queries with an HTTP route; the others answer UNKNOWN_SUBJECT so callers fall back. */
  async query(name: QueryName, params: Record<string, string>): Promise<Delivery> {
    const drv = params.hashPart ? `/v1/drvs/${encodeURIComponent(params.hashPart)}` : undefined;
    if (name === 'drv' && drv) return this.fetch(drv, { method: 'GET' });
    if (name === 'events' && drv) return this.fetch(`${drv}/events`, { method: 'GET' });
    if (name === 'should-build' && drv) return this.fetch(`${drv}/should-build`, { method: 'GET' });
    if (name === 'fods-due') {
      const q = params.olderThanDays ? `?olderThanDays=${encodeURIComponent(params.olderThanDays)}` : '';
      return this.fetch(`/v1/fods/due${q}`, { method: 'GET' });
    }
    return { kind: 'reply', reply: { ok: false, error: { code: 'UNKNOWN_SUBJECT', message: `query ${name} has no HTTP route` } } };
  }

  async close(): Promise<void> {}
}
