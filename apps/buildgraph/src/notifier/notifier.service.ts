import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { NatsConnection } from 'nats';
import { extname, join, resolve } from 'node:path';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';
import { natsOptions } from '../nats/nats.module';
import { NATS_CONNECTION } from '../nats/nats.tokens';
import { FOLLOW_APPENDS_MS } from '../projections/projections.service';
import { SupervisedThread } from '../threads/thread';
import type { NotifierMessage, NotifierWorkerData } from './notifier.worker';

export { notificationKey } from './notifier.worker';

/**
 * Runs the notifier (notifier.worker.ts) on its own thread when NATS is configured, relays its log
 * lines, and keeps `buildgraph_notifier_lag_events` from what it reports.
 */
@Injectable()
export class NotifierService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Notifier');
  private thread?: SupervisedThread<NotifierMessage>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection | null,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    private readonly metrics: MetricsService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.nc) return;
    const options = natsOptions(this.config, 'buildgraph-notifier');
    const data: NotifierWorkerData = { store: this.config.BUILDGRAPH_STORE, servers: options.servers, name: options.name, dataDir: resolve(this.config.BUILDGRAPH_DATA_DIR), pollMs: FOLLOW_APPENDS_MS };
    this.thread = new SupervisedThread<NotifierMessage>({
      name: 'notifier',
      module: join(__dirname, `notifier.worker${extname(__filename)}`),
      entry: 'runNotifierWorker',
      data,
      log: this.log,
      metrics: this.metrics,
      onMessage: (m) => {
        if (m.type === 'lag') this.metrics.notifierLag.set(m.events);
      },
    });
    await this.thread.start();
  }

  /** The supervised thread (tests kill it as a crash would). */
  get supervisor(): SupervisedThread<NotifierMessage> | undefined {
    return this.thread;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.thread?.stop(this.config.BUILDGRAPH_SHUTDOWN_GRACE_MS);
  }
}
