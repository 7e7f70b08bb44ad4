import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DomainEvent } from '@buildgraph/domain';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import { decodeEvent, GroupPolicy, InvalidationPolicy, PROJECTIONS, ProjectionError, ProjectionRunner, ReadStore } from '@buildgraph/projections';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';

const POLICIES = ['invalidation', 'group'];

/**
 * The read models and policies, in this process: a disposable SQLite read store under the data dir,
 * caught up from its checkpoint in the background at start, then following the log live. A read
 * store built by other projection versions is moved aside and rebuilt (read models are disposable).
 */
@Injectable()
export class ProjectionsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Projections');
  readonly readStore: ReadStore;
  private readonly runner: ProjectionRunner<DomainEvent>;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) config: ServiceConfig,
    private readonly metrics: MetricsService,
  ) {
    const dir = resolve(config.BUILDGRAPH_DATA_DIR);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'read-models.sqlite');
    const policyLog = (message: string, details?: Record<string, unknown>): void => this.log.warn({ ...details }, message);
    const open = (): { readStore: ReadStore; runner: ProjectionRunner<DomainEvent> } => {
      const readStore = new ReadStore(path);
      try {
        const runner = new ProjectionRunner<DomainEvent>({
          events: store,
          readStore,
          projections: PROJECTIONS,
          decode: decodeEvent,
          processors: [new InvalidationPolicy(), new GroupPolicy(policyLog)],
          tickMs: 1000,
        });
        return { readStore, runner };
      } catch (e) {
        readStore.close();
        throw e;
      }
    };
    let opened;
    try {
      opened = open();
    } catch (e) {
      if (!(e instanceof ProjectionError && (e.code === 'READ_STORE_MISMATCH' || e.code === 'READ_STORE_CORRUPT')) || !existsSync(path)) throw e;
      const aside = `${path}.stale-${Date.now()}`;
      this.log.warn(`${e.message}; moving it to ${aside} and rebuilding the read models from the log`);
      renameSync(path, aside);
      for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
      opened = open();
    }
    this.readStore = opened.readStore;
    this.runner = opened.runner;
  }

  onApplicationBootstrap(): void {
    // catching up can take a while on a big log: the service answers meanwhile, and the lag metric shows it
    this.running = (async () => {
      const head = await this.store.headPosition();
      if (this.runner.position < head) this.log.log(`catching up read models from ${this.runner.position} to ${head}`);
      await this.runner.catchUp();
      await this.runner.start();
      this.runner.done.catch((e: unknown) => this.log.error({ err: e }, 'projections stopped'));
    })().catch((e: unknown) => this.log.error({ err: e }, 'projections failed to start'));
    this.timer = setInterval(() => void this.updateMetrics(), 1000);
    this.timer.unref();
  }

  /** Position whose effects are in the read models. */
  get position(): bigint {
    return this.runner.position;
  }

  async updateMetrics(): Promise<void> {
    const head = await this.store.headPosition().catch(() => undefined);
    if (head === undefined) return;
    this.metrics.projectionLag.set(Number(head - this.runner.position));
    const oldest = POLICIES.map((p) => this.readStore.checkpoint(`processor:${p}`)).reduce((a, b) => (a < b ? a : b));
    this.metrics.policyBacklog.set(Number(head - oldest));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.runner.stop();
    this.readStore.close();
  }
}
