import { Controller, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { COMMANDS, errorReply, isCommandName, LIMITS, SIGNATURE_HEADER } from '@buildgraph/contracts';
import type { Request, Response } from '../http/wire';
import { header, readRawBody, sendReply, tooLarge } from '../http/wire';
import { IntakeService } from './intake.service';

@ApiTags('commands')
@Controller('v1')
export class IntakeHttpController {
  constructor(private readonly intake: IntakeService) {}

  @Post(':command')
  @ApiOperation({ summary: 'Send a command: the same JSON body and reply as NATS subject buildgraph.v1.<command>' })
  @ApiParam({ name: 'command', enum: COMMANDS })
  @ApiHeader({ name: SIGNATURE_HEADER, required: true, description: '<keyname>:<base64 ed25519 signature over the exact body>' })
  @ApiBody({ description: 'the command (see the wire contract in the README)', schema: { type: 'object' } })
  async command(@Param('command') command: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!isCommandName(command)) {
      req.raw.resume();
      return sendReply(res, errorReply('UNKNOWN_SUBJECT', `no command ${command}; commands are ${COMMANDS.join(', ')}`, { command }));
    }
    // the body is left unparsed by Fastify (service.ts): the signature covers these exact bytes
    const body = await readRawBody(req.raw, LIMITS.requestBytes);
    if (!body) return sendReply(res, tooLarge(LIMITS.requestBytes));
    sendReply(res, await this.intake.handle(command, body, header(req, SIGNATURE_HEADER), 'http'));
  }
}
