import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { errorReply } from '@buildgraph/contracts';
import type { Response } from '../http/wire';
import { sendReply } from '../http/wire';
import { LogStore } from './log-store';

@ApiTags('queries')
@Controller('v1/logs')
export class LogsController {
  constructor(private readonly logs: LogStore) {}

  @Get(':sha256')
  @ApiOperation({ summary: 'A build log sent with attempt.fail, by the sha256 its AttemptFailed event names (text/plain)' })
  async get(@Param('sha256') sha256: string, @Res() res: Response): Promise<void> {
    const log = await this.logs.get(sha256);
    if (!log) return sendReply(res, errorReply('NOT_FOUND', `no log with sha256 ${sha256.slice(0, 64)}`, { sha256: sha256.slice(0, 64) }));
    res.status(200).type('text/plain; charset=utf-8').header('Cache-Control', 'public, max-age=31536000, immutable').send(log);
  }
}
