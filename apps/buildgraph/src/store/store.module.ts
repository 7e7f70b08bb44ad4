import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { describeStoreUrl, EVENT_STORE, EventStore, openEventStore } from '@buildgraph/eventstore';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, SERVICE_CONFIG, ServiceConfig } from '../config/config';

async function open(config: ServiceConfig): Promise<EventStore> {
  const log = new Logger('EventStore');
  let target;
  try {
    target = describeStoreUrl(config.BUILDGRAPH_STORE);
  } catch (e) {
    throw new ConfigError('BUILDGRAPH_STORE', `invalid setting BUILDGRAPH_STORE=${config.BUILDGRAPH_STORE}: ${(e as Error).message}`);
  }
  try {
    if (target.kind === 'sqlite') mkdirSync(dirname(target.path), { recursive: true });
    const store = await openEventStore(config.BUILDGRAPH_STORE);
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
