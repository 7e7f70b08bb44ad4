import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import type { Response } from '../http/wire';
import { NatsConnection } from 'nats';
import { NATS_CONNECTION } from '../nats/nats.tokens';
import { NotifierService } from '../notifier/notifier.service';
import { ProjectionsService } from '../projections/projections.service';
import type { ThreadStatus } from '../threads/thread';

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
    private readonly projections: ProjectionsService,
    private readonly notifier: NotifierService,
  ) {}

  @Get()
  @ApiOkResponse({ description: '{ok, live, ready, checks: {store, nats, projections, notifier}}; 503 when not ready (store or NATS; the worker threads are reported, not counted)' })
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
    // the worker threads are reported, not counted for readiness: the intake acknowledges without them,
    // and a thread that went down is being restarted (buildgraph_thread_up is the thing to alert on)
    const thread = (t: ThreadStatus | undefined, off: string): Check =>
      !t ? { ok: true, detail: off } : { ok: t.up, detail: `${t.up ? 'up' : 'down, restarting'}; restarted ${t.restarts} times` };
    const projections = thread(this.projections.supervisor, 'not started');
    const notifier = thread(this.notifier.supervisor, 'not configured (no NATS)');
    const ready = store.ok && nats.ok;
    res.status(ready ? 200 : 503).send({ ok: ready, live: true, ready, checks: { store, nats, projections, notifier } });
  }

  @Get('live')
  live(): { ok: true; live: true } {
    return { ok: true, live: true };
  }
}
