import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import { ReadStore } from '@buildgraph/projections';
import { mkdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { SupervisedThread } from '../threads/thread';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';
import { POLICIES, ProjectionsWorkerData, WorkerMessage } from './projections.worker';

/** How often each connection looks for the other's appends in the shared SQLite file. */
export const FOLLOW_APPENDS_MS = 20;

/**
 * The read models and policies run on a worker thread (projections.worker.ts) with their own store
 * connections, so applying events never holds the intake's event loop. This side opens the read
 * store read-only (WAL lets it read while the thread writes) for the queries, and reports the lag.
 */
@Injectable()
export class ProjectionsService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Projections');
  private readonly path: string;
  private thread?: SupervisedThread<WorkerMessage>;
  private reader?: ReadStore;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    private readonly metrics: MetricsService,
  ) {
    const dir = resolve(config.BUILDGRAPH_DATA_DIR);
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'read-models.sqlite');
  }

  /** Starts the thread and waits until the read store is open (catching up goes on in the background). */
  async onModuleInit(): Promise<void> {
    const data: ProjectionsWorkerData = { store: this.config.BUILDGRAPH_STORE, readStorePath: this.path, pollMs: FOLLOW_APPENDS_MS, tickMs: 1000 };
    this.thread = new SupervisedThread<WorkerMessage>({
      name: 'projections',
      module: join(__dirname, `projections.worker${extname(__filename)}`),
      entry: 'runProjectionsWorker',
      data,
      log: this.log,
      metrics: this.metrics,
    });
    await this.thread.start();
    this.reader = new ReadStore(this.path, { readonly: true });
    this.timer = setInterval(() => void this.updateMetrics(), 1000);
    this.timer.unref();
  }

  /** The supervised thread (tests kill it as a crash would). */
  get supervisor(): SupervisedThread<WorkerMessage> | undefined {
    return this.thread;
  }

  /** The read models, read-only. */
  get readStore(): ReadStore {
    if (!this.reader) throw new Error('read models are not open yet');
    return this.reader;
  }

  /** Position whose effects are in the read models (committed); read before the data, so it never overstates. */
  get position(): bigint {
    return this.readStore.checkpoint('projections');
  }

  async updateMetrics(): Promise<void> {
    const head = await this.store.headPosition().catch(() => undefined);
    if (head === undefined || !this.reader) return;
    this.metrics.projectionLag.set(Number(head - this.position));
    const oldest = POLICIES.map((p) => this.readStore.checkpoint(`processor:${p}`)).reduce((a, b) => (a < b ? a : b));
    this.metrics.policyBacklog.set(Number(head - oldest));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // a thread still catching up a long log is not waited for: its checkpoint says where to resume
    await this.thread?.stop(this.config.BUILDGRAPH_SHUTDOWN_GRACE_MS);
    this.reader?.close();
  }
}
