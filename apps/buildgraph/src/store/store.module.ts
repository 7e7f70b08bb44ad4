import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { describeStoreUrl, EVENT_STORE, EventStore, openEventStore, openSqliteEventStore } from '@buildgraph/eventstore';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { ConfigError, SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { FOLLOW_APPENDS_MS } from '../projections/projections.service';

async function open(config: ServiceConfig): Promise<EventStore> {
  const log = new Logger('EventStore');
  let target;
  try {
    target = describeStoreUrl(config.BUILDGRAPH_STORE);
  } catch (e) {
    throw new ConfigError('BUILDGRAPH_STORE', `invalid setting BUILDGRAPH_STORE=${config.BUILDGRAPH_STORE}: ${(e as Error).message}`);
  }
  try {
    if (target.kind === 'sqlite' && !existsSync(dirname(resolve(target.path)))) {
      // only our own data dir is created; a store elsewhere must be in a directory that exists
      // (recursive mkdir is also unsafe on some virtual file systems, e.g. it never returns under /proc)
      const dataDir = resolve(config.BUILDGRAPH_DATA_DIR);
      if (!resolve(target.path).startsWith(dataDir + sep)) throw new Error(`directory ${dirname(resolve(target.path))} does not exist`);
      mkdirSync(dirname(resolve(target.path)), { recursive: true });
    }
    // the policies append from the projections thread's own connection: follow them, so the notifier
    // publishes their events without waiting for the next command
    const store = target.kind === 'sqlite' ? await openSqliteEventStore(target.path, { pollExternalAppendsMs: FOLLOW_APPENDS_MS }) : await openEventStore(config.BUILDGRAPH_STORE);
    log.log(target.kind === 'sqlite' ? `embedded SQLite event store at ${target.path}` : `EventStoreDB at ${target.url.replace(/\/\/[^@]*@/, '//***@')}`);
    return store;
  } catch (e) {
    throw new ConfigError('BUILDGRAPH_STORE', `cannot open BUILDGRAPH_STORE=${config.BUILDGRAPH_STORE}: ${(e as Error).message}`);
  }
}

class StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}
  // onApplicationShutdown runs after every beforeApplicationShutdown, so in-flight commands have finished
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

@Global()
@Module({
  providers: [{ provide: EVENT_STORE, inject: [SERVICE_CONFIG], useFactory: open }, StoreCloser],
  exports: [EVENT_STORE],
})
export class StoreModule {}
