import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { NATS_CONNECTION } from './nats.tokens';
import { UnknownSubjectResponder } from './unknown-subject.responder';

/** Options shared by our connection and the Nest transport's: reconnect for ever once connected. */
export function natsOptions(config: ServiceConfig, name: string): { servers: string[]; name: string; maxReconnectAttempts: number; reconnectTimeWait: number } {
  return { servers: (config.BUILDGRAPH_NATS_URL ?? '').split(','), name, maxReconnectAttempts: -1, reconnectTimeWait: 500 };
}

async function openConnection(config: ServiceConfig): Promise<NatsConnection | null> {
  const log = new Logger('Nats');
  if (!config.BUILDGRAPH_NATS_URL) {
    log.log('BUILDGRAPH_NATS_URL is not set: serving HTTP only, no NATS intake or notifications');
    return null;
  }
  try {
    const nc = await connect(natsOptions(config, 'buildgraph'));
    log.log(`connected to NATS at ${nc.getServer()}`);
    return nc;
  } catch (e) {
    // fail fast: an orchestrator restarts us, and a typo in the URL should not look like a healthy service
    throw new Error(`cannot connect to BUILDGRAPH_NATS_URL=${config.BUILDGRAPH_NATS_URL}: ${(e as Error).message}`);
  }
}

class NatsCloser implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection | null) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => this.nc?.close());
  }
}

@Global()
@Module({
  providers: [
    { provide: NATS_CONNECTION, inject: [SERVICE_CONFIG], useFactory: openConnection },
    NatsCloser,
    UnknownSubjectResponder,
  ],
  exports: [NATS_CONNECTION],
})
export class NatsModule {}
