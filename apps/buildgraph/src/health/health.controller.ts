import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import type { Response } from '../http/wire';
import { NatsConnection } from 'nats';
import { NATS_CONNECTION } from '../nats/nats.tokens';

type Check = { ok: boolean; detail: string };

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);
}

/** Liveness (the process answers) and readiness (the store answers, NATS is connected when configured). */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection | null,
  ) {}

  @Get()
  @ApiOkResponse({ description: '{ok, live, ready, checks: {store, nats}}; 503 when not ready' })
  async health(@Res() res: Response): Promise<void> {
    const store: Check = await withTimeout(this.store.headPosition(), 2000).then(
      (head) => ({ ok: true, detail: `head position ${head}` }),
      (e: Error) => ({ ok: false, detail: e.message }),
    );
    const nats: Check = !this.nc
      ? { ok: true, detail: 'not configured (HTTP only)' }
      : this.nc.isClosed()
        ? { ok: false, detail: 'connection closed' }
        : await withTimeout(this.nc.rtt(), 2000).then(
            (rtt) => ({ ok: true, detail: `${this.nc?.getServer()} rtt ${rtt} ms` }),
            (e: Error) => ({ ok: false, detail: `disconnected: ${e.message}` }),
          );
    const ready = store.ok && nats.ok;
    res.status(ready ? 200 : 503).send({ ok: ready, live: true, ready, checks: { store, nats } });
  }

  @Get('live')
  live(): { ok: true; live: true } {
    return { ok: true, live: true };
  }
}
