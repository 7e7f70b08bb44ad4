import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { errorReply } from '@buildgraph/contracts';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import type { Response } from '../http/wire';
import { sendReply } from '../http/wire';
import { QueryService, wireEvent } from './query.service';

@ApiTags('queries')
@Controller('v1')
export class QueryHttpController {
  constructor(
    private readonly queries: QueryService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get('drvs/:hashPart')
  @ApiOperation({ summary: 'A derivation\'s state: status, serial, valid outputs, cached failure, attempts' })
  async drv(@Param('hashPart') hashPart: string, @Res() res: Response): Promise<void> {
    sendReply(res, await this.queries.drv(hashPart));
  }

  @Get('drvs/:hashPart/events')
  @ApiOperation({ summary: 'Every event of a derivation\'s stream, in order, with positions' })
  async history(@Param('hashPart') hashPart: string, @Res() res: Response): Promise<void> {
    sendReply(res, await this.queries.history(hashPart));
  }

  @Get('events')
  @ApiOperation({ summary: 'Audit export: the whole log after a position, one JSON event per line (NDJSON), streamed' })
  @ApiQuery({ name: 'from', required: false, description: 'exclusive position (decimal); default 0 = everything' })
  async export(@Query('from') from: string | undefined, @Res() res: Response): Promise<void> {
    if (from !== undefined && !/^\d{1,20}$/.test(from)) {
      return sendReply(res, errorReply('INVALID_ARGUMENT', 'from must be a position: a decimal integer >= 0', { field: 'from' }));
    }
    const head = await this.store.headPosition();
    // streamed on the raw response, with its back-pressure; Fastify sends nothing more
    res.hijack();
    const out = res.raw;
    out.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // a fixed end, so an export is a consistent snapshot even while commands keep arriving
    for await (const batch of this.store.readAll({ from: BigInt(from ?? '0'), to: head, batchSize: 500 })) {
      const ok = out.write(batch.map((r) => JSON.stringify(wireEvent(r))).join('\n') + '\n');
      if (!ok) await new Promise((resolve) => out.once('drain', resolve));
      if (out.destroyed) return;
    }
    out.end();
  }
}
