import { CommandName, QueryName, signer } from '@buildgraph/contracts';
import { Outbox } from './outbox';
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
  private flushing: Promise<FlushResult> | undefined;

  constructor(
    readonly settings: FarmSettings,
    readonly outbox: Outbox,
    readonly transport: Transport,
    private readonly opts: ClientOptions = {},
  ) {
    this.sign = signer(settings.key);
  }

  static open(settings: FarmSettings, opts: ClientOptions = {}): FarmClient {
    return new FarmClient(settings, Outbox.open(settings.stateDir), openTransport(settings.serviceUrl, settings.timeoutMs), opts);
  }

  /** Durably queues reports (in this order); nothing is sent yet. */
  enqueue(...reports: { command: CommandName; payload: object }[]): number {
    return this.outbox.enqueue(reports.map((r) => ({ command: r.command, body: JSON.stringify(r.payload) })));
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
    const tries = Math.max(1, this.opts.tries ?? 3);
    const backoff = this.opts.backoffMs ?? 250;
    for (;;) {
      const batch = this.outbox.pending(500);
      if (batch.length === 0) break;
      for (const item of batch) {
        let delivery: Delivery = { kind: 'unreachable', reason: 'not sent' };
        for (let i = 0; i < tries; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, backoff * 2 ** (i - 1)));
          delivery = await this.transport.command(item.command, item.body, this.sign(item.body));
          if (delivery.kind === 'reply' && !(delivery.reply.ok === false && delivery.reply.error.code === 'UNAVAILABLE')) break;
        }
        if (delivery.kind === 'unreachable') {
          this.outbox.markTried(item.key, delivery.reason);
          result.unreachable = delivery.reason;
          result.remaining = this.outbox.size();
          return result;
        }
        const reply = delivery.reply;
        if (reply.ok) {
          this.outbox.markDelivered(item.key);
          result.delivered++;
        } else if (reply.error.code === 'UNAVAILABLE' || (reply.error.code === 'INTERNAL' && item.tries + 1 < MAX_INTERNAL_TRIES)) {
          // "not now" rather than "no": it stays queued, and so does everything after it (order matters)
          this.outbox.markTried(item.key, `${reply.error.code}: ${reply.error.message}`);
          result.unreachable = `${reply.error.code}: ${reply.error.message}`;
          result.remaining = this.outbox.size();
          return result;
        } else {
          this.outbox.markRejected(item.key, reply.error.code, reply.error.message);
          result.rejected.push({ command: item.command, code: reply.error.code, message: reply.error.message });
        }
      }
    }
    result.remaining = this.outbox.size();
    return result;
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

export function describeReply(reply: WireReply): string {
  return reply.ok ? 'ok' : `${reply.error.code}: ${reply.error.message}`;
}
