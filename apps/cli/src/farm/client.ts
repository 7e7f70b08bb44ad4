import { CommandName, QueryName, signer } from '@buildgraph/contracts';
import { Durability, Outbox, QueuedReport, Signer } from './outbox';
import { FarmSettings } from './settings';
import { Delivery, openTransport, Transport, WireReply } from './transport';

/** An INTERNAL answer this many times in a row is treated as a refusal, so one report cannot block the queue forever. */
const MAX_INTERNAL_TRIES = 5;

export interface FlushResult {
  delivered: number;
  /** refused for good by the service (kept in the outbox's rejected table) */
  rejected: { command: CommandName; code: string; message: string }[];
  /** still queued */
  remaining: number;
  /** why the rest could not be sent, when it could not */
  unreachable?: string;
}

export interface ClientOptions {
  /** tries per report while the service is unreachable, with a growing pause between them */
  tries?: number;
  /** first pause between tries, ms */
  backoffMs?: number;
}

/**
 * The farm's side of the wire: reports go into the durable outbox first, then are sent in order, each
 * signed with the farm key. Sending the same bytes again is always safe (the service answers a repeat
 * with the original events), which is what makes retries after a timeout harmless.
 */
export class FarmClient {
  private readonly sign: (body: string) => string;
  private readonly signRegister?: (body: string) => string;
  private flushing: Promise<FlushResult> | undefined;

  constructor(
    readonly settings: FarmSettings,
    readonly outbox: Outbox,
    readonly transport: Transport,
    private readonly opts: ClientOptions = {},
  ) {
    this.sign = signer(settings.key);
    this.signRegister = settings.registerKey ? signer(settings.registerKey) : undefined;
  }

  static open(settings: FarmSettings, opts: ClientOptions & { durability?: Durability } = {}): FarmClient {
    return new FarmClient(settings, Outbox.open(settings.stateDir, opts.durability), openTransport(settings.serviceUrl, settings.timeoutMs), opts);
  }

  /** Durably queues reports (in this order); nothing is sent yet. */
  enqueue(...reports: { command: CommandName; payload: object; signer?: Signer }[]): number {
    return this.outbox.enqueue(reports.map((r) => ({ command: r.command, body: JSON.stringify(r.payload), signer: r.signer })));
  }

  /** Sends what is queued, oldest first, stopping at the first report the service cannot take now. */
  flush(): Promise<FlushResult> {
    // one flush at a time per process; a caller arriving meanwhile waits for it, then flushes again
    const run = (this.flushing ?? Promise.resolve()).then(() => this.flushOnce());
    const chained = run.finally(() => {
      if (this.flushing === chained) this.flushing = undefined;
    });
    this.flushing = chained;
    return chained;
  }

  private async flushOnce(): Promise<FlushResult> {
    const result: FlushResult = { delivered: 0, rejected: [], remaining: 0 };
    for (;;) {
      const batch = this.outbox.pending(500);
      if (batch.length === 0) break;
      for (const wave of waves(batch)) {
        const outcomes = await Promise.all(wave.map((item) => this.deliver(item)));
        const delivered = wave.filter((_, i) => outcomes[i].kind === 'delivered').map((item) => item.key);
        this.outbox.markDelivered(delivered);
        result.delivered += delivered.length;
        let stop: string | undefined;
        wave.forEach((item, i) => {
          const o = outcomes[i];
          if (o.kind === 'rejected') {
            this.outbox.markRejected(item.key, o.code, o.message);
            result.rejected.push({ command: item.command, code: o.code, message: o.message });
          } else if (o.kind === 'later') {
            this.outbox.markTried(item.key, o.reason);
            stop = o.reason;
          }
        });
        if (stop !== undefined) {
          result.unreachable = stop;
          result.remaining = this.outbox.size();
          return result;
        }
      }
    }
    result.remaining = this.outbox.size();
    return result;
  }

  /** One report, retried while the service is unreachable. */
  private async deliver(item: QueuedReport): Promise<{ kind: 'delivered' } | { kind: 'later'; reason: string } | { kind: 'rejected'; code: string; message: string }> {
    const tries = Math.max(1, this.opts.tries ?? 3);
    const backoff = this.opts.backoffMs ?? 250;
    const sign = item.signer === 'register' ? this.signRegister : this.sign;
    if (!sign) return { kind: 'rejected', code: 'UNAUTHENTICATED', message: 'queued for the register key, which is not configured now' };
    let delivery: Delivery = { kind: 'unreachable', reason: 'not sent' };
    for (let i = 0; i < tries; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, backoff * 2 ** (i - 1)));
      delivery = await this.transport.command(item.command, item.body, sign(item.body));
      if (delivery.kind === 'reply' && !(delivery.reply.ok === false && delivery.reply.error.code === 'UNAVAILABLE')) break;
    }
    if (delivery.kind === 'unreachable') return { kind: 'later', reason: delivery.reason };
    const reply = delivery.reply;
    if (reply.ok) {
      this.noteWritten(reply.positions);
      return { kind: 'delivered' };
    }
    // "not now" rather than "no": it stays queued, and so does everything after it
    if (reply.error.code === 'UNAVAILABLE' || (reply.error.code === 'INTERNAL' && item.tries + 1 < MAX_INTERNAL_TRIES)) {
      return { kind: 'later', reason: `${reply.error.code}: ${reply.error.message}` };
    }
    return { kind: 'rejected', code: reply.error.code, message: reply.error.message };
  }

  /** The log position of the last event our reports appended (or found already there), for read-your-writes. */
  lastPosition = 0n;

  private noteWritten(positions: unknown): void {
    if (!Array.isArray(positions)) return;
    for (const p of positions) {
      if ((typeof p === 'string' && /^\d{1,20}$/.test(p)) || typeof p === 'number') {
        const n = BigInt(p);
        if (n > this.lastPosition) this.lastPosition = n;
      }
    }
  }

  /** A query (unsigned: queries change nothing). */
  async query(name: QueryName, params: Record<string, string>): Promise<Delivery> {
    return this.transport.query(name, params);
  }

  /** Sends one command now, bypassing the queue; for commands whose answer the caller needs (e.g. fod). */
  async send(command: CommandName, payload: object): Promise<Delivery> {
    const body = JSON.stringify(payload);
    return this.transport.command(command, body, this.sign(body));
  }

  async close(): Promise<void> {
    await this.flushing?.catch(() => undefined);
    await this.transport.close();
    this.outbox.close();
  }
}

/** Reports sent together: at most WAVE of them, no two about the same drv (their order matters). */
const WAVE = 32;

/**
 * Splits the queue into waves that may be sent concurrently (the service commits concurrent appends
 * together). Reports about one drv keep their order; a resolution goes alone, after everything before
 * it, because it needs its inputs registered by earlier reports.
 */
export function waves(items: QueuedReport[]): QueuedReport[][] {
  const out: QueuedReport[][] = [];
  let wave: QueuedReport[] = [];
  let drvs = new Set<string>();
  const close = (): void => {
    if (wave.length > 0) out.push(wave);
    wave = [];
    drvs = new Set();
  };
  for (const item of items) {
    const drv = drvPathOf(item.body);
    if (item.command === 'attempt.resolve' || drv === undefined || drvs.has(drv) || wave.length >= WAVE) close();
    wave.push(item);
    if (drv !== undefined) drvs.add(drv);
    if (item.command === 'attempt.resolve' || drv === undefined) close();
  }
  close();
  return out;
}

function drvPathOf(body: string): string | undefined {
  try {
    const v = JSON.parse(body) as { drvPath?: unknown };
    return typeof v.drvPath === 'string' ? v.drvPath : undefined;
  } catch {
    return undefined;
  }
}

export function describeReply(reply: WireReply): string {
  return reply.ok ? 'ok' : `${reply.error.code}: ${reply.error.message}`;
}
