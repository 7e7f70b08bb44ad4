import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { NatsConnection } from 'nats';
import { extname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';
import { natsOptions } from '../nats/nats.module';
import { NATS_CONNECTION } from '../nats/nats.tokens';
import { FOLLOW_APPENDS_MS } from '../projections/projections.service';
import { startThread } from '../threads/thread';
import type { NotifierMessage, NotifierWorkerData } from './notifier.worker';

export { notificationKey } from './notifier.worker';

/**
 * Runs the notifier (notifier.worker.ts) on its own thread when NATS is configured, relays its log
 * lines, and keeps `buildgraph_notifier_lag_events` from what it reports.
 */
@Injectable()
export class NotifierService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Notifier');
  private worker?: Worker;
  private exited?: Promise<void>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection | null,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    private readonly metrics: MetricsService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.nc) return;
    const options = natsOptions(this.config, 'buildgraph-notifier');
    const data: NotifierWorkerData = { store: this.config.BUILDGRAPH_STORE, servers: options.servers, name: options.name, dataDir: resolve(this.config.BUILDGRAPH_DATA_DIR), pollMs: FOLLOW_APPENDS_MS };
    const worker = startThread(join(__dirname, `notifier.worker${extname(__filename)}`), 'runNotifierWorker', data);
    this.worker = worker;
    this.exited = new Promise((r) => worker.once('exit', () => r()));
    await new Promise<void>((ready, fail) => {
      worker.on('message', (m: NotifierMessage) => {
        if (m.type === 'ready') ready();
        else if (m.type === 'failed') fail(new Error(`notifier: ${m.message}`));
        else if (m.type === 'lag') this.metrics.notifierLag.set(m.events);
        else if (m.type === 'log') this.log[m.level]({ ...m.details }, m.message);
      });
      worker.once('error', (e) => {
        this.log.error({ err: e }, 'notifier thread failed');
        fail(e);
      });
      worker.once('exit', (code) => fail(new Error(`notifier thread exited with ${code} before it was ready`)));
    });
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ type: 'stop' });
    const late = setTimeout(() => void worker.terminate(), this.config.BUILDGRAPH_SHUTDOWN_GRACE_MS);
    await this.exited;
    clearTimeout(late);
  }
}
