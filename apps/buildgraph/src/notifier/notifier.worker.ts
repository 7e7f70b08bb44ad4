/**
 * The notifier, on its own thread: reading every appended event back and publishing it to NATS no
 * longer holds the event loop that answers commands. The thread has its own event-store connection
 * (following the intake's appends through the shared SQLite file) and its own NATS connection.
 */
import { EVENTS_STREAM, eventSubject, EVENTS_SUBJECT_WILDCARD } from '@buildgraph/contracts';
import { describeStoreUrl, EventStore, openEventStore, openSqliteEventStore, RecordedEvent, Subscription } from '@buildgraph/eventstore';
import { connect, headers, JetStreamClient, NatsConnection } from 'nats';
import { join } from 'node:path';
import { MessagePort } from 'node:worker_threads';
import { wireEventWithoutBody } from '../query/wire-event';
import type { ThreadLog } from '../threads/thread';
import { FileCheckpoint } from './checkpoint';

const CHECKPOINT_EVERY_MS = 250;

export interface NotifierWorkerData {
  store: string;
  servers: string[];
  /** the connection's name as the NATS server shows it */
  name: string;
  dataDir: string;
  /** how often the thread looks for appends made by other connections (SQLite) */
  pollMs: number;
}

/** Thread -> service. `lag`: events appended but not yet published. */
export type NotifierMessage = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'lag'; events: number } | { type: 'stopped' } | ThreadLog;

/** `drv-<hashPart>` -> hashPart, `group-<id>` -> id: the last token of the notification subject. */
export function notificationKey(stream: string): string {
  return stream.replace(/^(drv|group|system)-/, '');
}

async function setUpJetStream(nc: NatsConnection): Promise<JetStreamClient | undefined> {
  try {
    const jsm = await nc.jetstreamManager({ timeout: 2000 });
    try {
      await jsm.streams.info(EVENTS_STREAM);
    } catch {
      await jsm.streams.add({ name: EVENTS_STREAM, subjects: [EVENTS_SUBJECT_WILDCARD], duplicate_window: 10 * 60 * 1e9 });
    }
    return nc.jetstream();
  } catch {
    return undefined;
  }
}

/**
 * The published form of an event: the wire event without the signed request body (who signed is kept;
 * the exact signed bytes, up to a whole build log, are for auditors and stay in the audit export
 * /v1/events). An event still too big for the server's max_payload (a DerivationRegistered with a huge
 * ATerm under a 1 MiB default) is announced without its data, `truncated: true`, so the notifier never
 * stalls on it; the subscriber reads the whole event from the audit export at its position.
 */
export function notification(r: RecordedEvent, maxPayload = Infinity): Buffer {
  const event = wireEventWithoutBody(r);
  const data = Buffer.from(JSON.stringify(event));
  if (data.byteLength <= maxPayload - 1024) return data; // room for the subject and headers
  const { data: _data, ...slim } = event;
  return Buffer.from(JSON.stringify({ ...slim, truncated: true }));
}

/**
 * Publishes every appended event to `buildgraph.v1.events.<EventType>.<key>`: into the JetStream stream
 * BUILDGRAPH_EVENTS when the server has JetStream (message id = event id, so a re-publish after a crash
 * is dropped by the duplicate window), plain NATS otherwise. Resumes from its checkpoint file.
 */
class Notifier {
  private sub?: Subscription;
  private closing = false;
  private checkpointedAt = 0;
  private published?: bigint;
  private readonly checkpoint: FileCheckpoint;

  constructor(
    private readonly store: EventStore,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient | undefined,
    dataDir: string,
    private readonly post: (m: NotifierMessage) => void,
  ) {
    this.checkpoint = new FileCheckpoint(join(dataDir, 'notifier.checkpoint'));
  }

  start(): void {
    const from = this.checkpoint.read();
    this.post({ type: 'log', level: 'log', message: `publishing events after position ${from} ${this.js ? `into JetStream stream ${EVENTS_STREAM}` : 'on core NATS (no JetStream)'}` });
    this.sub = this.store.subscribe({ from, batchSize: 500 }, (batch) => this.publishUntilDone(batch));
    // the supervisor (threads/thread.ts) restarts the thread, which resumes from the checkpoint
    this.sub.done.catch((e: unknown) => this.closing || this.post({ type: 'failed', message: `notifier stopped: ${(e as Error).message}` }));
  }

  /** NATS may be away for a while: keep the batch and retry, so no event is skipped. */
  private async publishUntilDone(batch: RecordedEvent[]): Promise<void> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
      if (this.closing) return;
      try {
        return await this.publish(batch);
      } catch (e) {
        this.post({ type: 'log', level: 'warn', message: `publishing ${batch.length} events failed (${(e as Error).message}); retrying in ${delay} ms` });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async publish(batch: RecordedEvent[]): Promise<void> {
    const messages = batch.map((r) => {
      const h = headers();
      // JetStream drops a message whose id it has seen within the duplicate window, however it was published
      h.set('Nats-Msg-Id', r.id);
      return { subject: eventSubject(r.type, notificationKey(r.stream)), data: notification(r, this.nc.info?.max_payload), headers: h };
    });
    const final = messages.pop() as (typeof messages)[number];
    // a connection delivers in order, so one acknowledged publish at the end of the batch means the
    // server has taken the ones before it; acknowledging each would double the bus traffic
    for (const m of messages) this.nc.publish(m.subject, m.data, { headers: m.headers });
    if (this.js) await this.js.publish(final.subject, final.data, { msgID: batch[batch.length - 1].id });
    else this.nc.publish(final.subject, final.data, { headers: final.headers });
    const last = batch[batch.length - 1].position;
    // at most a few checkpoint writes a second: after a crash the few events re-published are dropped
    // by JetStream's duplicate window (message id = event id)
    const now = Date.now();
    if (now - this.checkpointedAt >= CHECKPOINT_EVERY_MS) {
      this.checkpoint.write(last);
      this.checkpointedAt = now;
      this.post({ type: 'lag', events: Number((await this.store.headPosition()) - last) });
    }
    this.published = last;
  }

  async stop(): Promise<void> {
    this.closing = true;
    await this.sub?.close();
    if (this.published !== undefined) this.checkpoint.write(this.published);
  }
}

/** The thread's body: connect, say ready, publish until told to stop. */
export async function runNotifierWorker(data: NotifierWorkerData, port: MessagePort): Promise<void> {
  const post = (m: NotifierMessage): void => port.postMessage(m);
  let store: EventStore | undefined;
  let nc: NatsConnection | undefined;
  let notifier: Notifier;
  try {
    const target = describeStoreUrl(data.store);
    store = target.kind === 'sqlite' ? await openSqliteEventStore(target.path, { pollExternalAppendsMs: data.pollMs }) : await openEventStore(data.store);
    // reconnect for ever once connected, as the service's own connections do
    nc = await connect({ servers: data.servers, name: data.name, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    notifier = new Notifier(store, nc, await setUpJetStream(nc), data.dataDir, post);
  } catch (e) {
    await nc?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    post({ type: 'failed', message: (e as Error).message });
    return;
  }
  const events = store;
  const conn = nc;
  let stopping = false;
  port.on('message', (m: { type: string }) => {
    if (m.type !== 'stop' || stopping) return;
    stopping = true;
    void (async () => {
      await notifier.stop();
      await conn.drain().catch(() => conn.close());
      await events.close();
      post({ type: 'stopped' });
      port.close();
    })();
  });
  notifier.start();
  post({ type: 'ready' });
}
