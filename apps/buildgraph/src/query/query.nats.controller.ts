import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { parseJsonBody, querySubject, Reply } from '@buildgraph/contracts';
import { QueryService } from './query.service';

/** Queries over NATS: body `{"hashPart": "..."}`, same reply as the HTTP route. */
@Controller()
export class QueryNatsController {
  constructor(private readonly queries: QueryService) {}

  private hashPart(body: Uint8Array): { ok: true; hashPart: string } | { ok: false; reply: Reply<object> } {
    const parsed = parseJsonBody(body);
    if (!parsed.ok) return { ok: false, reply: parsed };
    return { ok: true, hashPart: typeof parsed.value.hashPart === 'string' ? parsed.value.hashPart : '' };
  }

  @MessagePattern(querySubject('drv'))
  async drv(@Payload() body: Uint8Array): Promise<Reply<object>> {
    const q = this.hashPart(body);
    return q.ok ? this.queries.drv(q.hashPart) : q.reply;
  }

  @MessagePattern(querySubject('events'))
  async events(@Payload() body: Uint8Array): Promise<Reply<object>> {
    const q = this.hashPart(body);
    return q.ok ? this.queries.history(q.hashPart) : q.reply;
  }
}
