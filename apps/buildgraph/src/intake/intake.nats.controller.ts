import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload } from '@nestjs/microservices';
import { COMMANDS, commandSubject, errorReply, Reply, SIGNATURE_HEADER, SUBJECT_PREFIX, isCommandName } from '@buildgraph/contracts';
import { IntakeService } from './intake.service';

/** Commands over NATS: `buildgraph.v1.<command>`, raw JSON body, signature in a NATS header. */
@Controller()
export class IntakeNatsController {
  constructor(private readonly intake: IntakeService) {}

  @MessagePattern(COMMANDS.map(commandSubject))
  async command(@Payload() body: Uint8Array, @Ctx() ctx: NatsContext): Promise<Reply<object>> {
    const name = ctx.getSubject().slice(SUBJECT_PREFIX.length);
    if (!isCommandName(name)) return errorReply('UNKNOWN_SUBJECT', `no handler for subject ${ctx.getSubject()}`);
    return this.intake.handle(name, body, ctx.getHeaders()?.get(SIGNATURE_HEADER) || undefined, 'nats');
  }
}
