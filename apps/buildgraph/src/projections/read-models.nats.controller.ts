import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { parseJsonBody, querySubject, Reply } from '@buildgraph/contracts';
import { ReadModelsService } from './read-models.service';

/** Read-model queries over NATS; the body names what the HTTP path and query string name. */
@Controller()
export class ReadModelsNatsController {
  constructor(private readonly q: ReadModelsService) {}

  private async with(body: Uint8Array, f: (b: Record<string, unknown>) => Promise<Reply<object>> | Reply<object>): Promise<Reply<object>> {
    const parsed = parseJsonBody(body.byteLength === 0 ? '{}' : body);
    return parsed.ok ? f(parsed.value) : parsed;
  }

  @MessagePattern(querySubject('should-build'))
  shouldBuild(@Payload() body: Uint8Array): Promise<Reply<object>> {
    return this.with(body, (b) => this.q.shouldBuild(b.hashPart, b.force === true));
  }

  @MessagePattern(querySubject('downstream'))
  downstream(@Payload() body: Uint8Array): Promise<Reply<object>> {
    return this.with(body, (b) => this.q.downstream(b.hashPart));
  }

  @MessagePattern(querySubject('attempt-trace'))
  trace(@Payload() body: Uint8Array): Promise<Reply<object>> {
    return this.with(body, (b) => this.q.attemptTrace(b.hashPart, b.attemptId));
  }

  @MessagePattern(querySubject('group'))
  group(@Payload() body: Uint8Array): Promise<Reply<object>> {
    return this.with(body, (b) => this.q.group(b.groupId));
  }

  @MessagePattern(querySubject('incoherence'))
  incoherence(@Payload() body: Uint8Array): Promise<Reply<object>> {
    return this.with(body, () => this.q.incoherence());
  }

  @MessagePattern(querySubject('fods-due'))
  fodsDue(@Payload() body: Uint8Array): Promise<Reply<object>> {
    return this.with(body, (b) => this.q.fodsDue(b.olderThanDays));
  }
}
