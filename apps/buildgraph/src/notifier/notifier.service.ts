import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EVENTS_STREAM, eventSubject, EVENTS_SUBJECT_WILDCARD } from '@buildgraph/contracts';
import { EVENT_STORE, EventStore, RecordedEvent, Subscription } from '@buildgraph/eventstore';
import { headers, JetStreamClient, NatsConnection } from 'nats';
import { join } from 'node:path';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';
import { NATS_CONNECTION } from '../nats/nats.tokens';
import { wireEvent } from '../query/query.service';
import { FileCheckpoint } from './checkpoint';

const CHECKPOINT_EVERY_MS = 250;

/** `drv-<hashPart>` -> hashPart, `group-<id>` -> id: the last token of the notification subject. */
export function notificationKey(stream: string): string {
  return stream.replace(/^(drv|group|system)-/, '');
}

/**
 * Publishes every appended event to `buildgraph.v1.events.<EventType>.<key>`: into the JetStream stream
 * BUILDGRAPH_EVENTS when the server has JetStream (message id = event id, so a re-publish after a crash
 * is dropped by the duplicate window), plain NATS otherwise. Resumes from its checkpoint file.
 */
@Injectable()
export class NotifierService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Notifier');
  private sub?: Subscription;
  private js?: JetStreamClient;
  private closing = false;
  private checkpointedAt = 0;
  private published?: bigint;
  private readonly checkpoint: FileCheckpoint;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection | null,
    @Inject(SERVICE_CONFIG) config: ServiceConfig,
    private readonly metrics: MetricsService,
  ) {
    this.checkpoint = new FileCheckpoint(join(config.BUILDGRAPH_DATA_DIR, 'notifier.checkpoint'));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.nc) return;
    this.js = await this.setUpJetStream(this.nc);
    const from = this.checkpoint.read();
    this.log.log(`publishing events after position ${from} ${this.js ? `into JetStream stream ${EVENTS_STREAM}` : 'on core NATS (no JetStream)'}`);
    this.sub = this.store.subscribe({ from, batchSize: 500 }, (batch) => this.publishUntilDone(batch));
    this.sub.done.catch((e: unknown) => this.log.error({ err: e }, 'notifier stopped'));
  }

  private async setUpJetStream(nc: NatsConnection): Promise<JetStreamClient | undefined> {
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

  /** NATS may be away for a while: keep the batch and retry, so no event is skipped. */
  private async publishUntilDone(batch: RecordedEvent[]): Promise<void> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
      if (this.closing) return;
      try {
        return await this.publish(batch);
      } catch (e) {
        this.log.warn(`publishing ${batch.length} events failed (${(e as Error).message}); retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async publish(batch: RecordedEvent[]): Promise<void> {
    const nc = this.nc;
    if (!nc) return;
    const messages = batch.map((r) => {
      const h = headers();
      // JetStream drops a message whose id it has seen within the duplicate window, however it was published
      h.set('Nats-Msg-Id', r.id);
      return { subject: eventSubject(r.type, notificationKey(r.stream)), data: Buffer.from(JSON.stringify(wireEvent(r))), headers: h };
    });
    const final = messages.pop() as (typeof messages)[number];
    // a connection delivers in order, so one acknowledged publish at the end of the batch means the
    // server has taken the ones before it; acknowledging each would double the bus traffic
    for (const m of messages) nc.publish(m.subject, m.data, { headers: m.headers });
    if (this.js) await this.js.publish(final.subject, final.data, { msgID: batch[batch.length - 1].id });
    else nc.publish(final.subject, final.data, { headers: final.headers });
    const last = batch[batch.length - 1].position;
    // at most a few checkpoint writes a second: after a crash the few events re-published are dropped
    // by JetStream's duplicate window (message id = event id)
    const now = Date.now();
    if (now - this.checkpointedAt >= CHECKPOINT_EVERY_MS) {
      this.checkpoint.write(last);
      this.checkpointedAt = now;
      this.metrics.notifierLag.set(Number((await this.store.headPosition()) - last));
    }
    this.published = last;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.sub?.close();
    if (this.published !== undefined) this.checkpoint.write(this.published);
  }
}
