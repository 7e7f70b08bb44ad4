import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { sendReply, type Response } from '../http/wire';
import { ReadModelsService } from './read-models.service';

@ApiTags('queries')
@Controller('v1')
export class ReadModelsHttpController {
  constructor(private readonly q: ReadModelsService) {}

  @Get('drvs/:hashPart/should-build')
  @ApiOperation({ summary: 'build | skip-valid | skip-cached-failure | retry-after | wait-in-progress, with the reason' })
  @ApiQuery({ name: 'force', required: false, description: 'true: ignore a cached failure' })
  async shouldBuild(@Param('hashPart') hashPart: string, @Query('force') force: string | undefined, @Res() res: Response): Promise<void> {
    sendReply(res, await this.q.shouldBuild(hashPart, force === 'true' || force === '1'));
  }

  @Get('drvs/:hashPart/downstream')
  @ApiOperation({ summary: 'Derivations built on this one (transitively, through inputDrvs)' })
  async downstream(@Param('hashPart') hashPart: string, @Res() res: Response): Promise<void> {
    sendReply(res, await this.q.downstream(hashPart));
  }

  @Get('attempts/:attemptId/trace')
  @ApiOperation({ summary: 'The build trace of one attempt: drv, resolved drv, input realisations, outputs, farm, machine' })
  @ApiQuery({ name: 'drv', required: true, description: 'hash part of the attempt\'s .drv (attempt ids are unique per drv)' })
  async trace(@Param('attemptId') attemptId: string, @Query('drv') hashPart: string, @Res() res: Response): Promise<void> {
    sendReply(res, await this.q.attemptTrace(hashPart, attemptId));
  }

  @Get('groups/:groupId')
  @ApiOperation({ summary: 'A multi-machine group: open / succeeded / failed, per member' })
  group(@Param('groupId') groupId: string, @Res() res: Response): void {
    sendReply(res, this.q.group(groupId));
  }

  @Get('incoherence')
  @ApiOperation({ summary: 'Resolved outputs built to more than one store path (non-determinism)' })
  incoherence(@Res() res: Response): void {
    sendReply(res, this.q.incoherence());
  }

  @Get('fods/due')
  @ApiOperation({ summary: 'FODs due for re-verification' })
  @ApiQuery({ name: 'olderThanDays', required: false })
  fodsDue(@Query('olderThanDays') olderThanDays: string | undefined, @Res() res: Response): void {
    sendReply(res, this.q.fodsDue(olderThanDays));
  }
}
