import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { COMMANDS, errorReply, SUBJECT_PREFIX } from '@buildgraph/contracts';
import { NatsConnection, Subscription } from 'nats';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { NATS_QUERY_SUBJECTS } from '../query/query.subjects';
import { NATS_CONNECTION } from './nats.tokens';

/**
 * Answers requests to `buildgraph.v1.*` subjects that no handler owns with UNKNOWN_SUBJECT, instead of
 * letting the caller time out. A separate wildcard subscription that stays silent for owned subjects
 * (their own handler answers) and for notifications.
 */
@Injectable()
export class UnknownSubjectResponder implements OnApplicationBootstrap {
  private sub?: Subscription;
  private readonly owned = new Set<string>([...COMMANDS.map((c) => SUBJECT_PREFIX + c), ...NATS_QUERY_SUBJECTS]);

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection | null,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.nc) return;
    this.sub = this.nc.subscribe(`${SUBJECT_PREFIX}>`, {
      queue: `${this.config.BUILDGRAPH_NATS_QUEUE}-unknown`,
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        if (this.owned.has(msg.subject) || msg.subject.startsWith(`${SUBJECT_PREFIX}events.`)) return;
        const reply = errorReply('UNKNOWN_SUBJECT', `no handler for subject ${msg.subject}`, { subject: msg.subject });
        msg.respond(Buffer.from(JSON.stringify(reply)));
      },
    });
  }

  owns(subject: string): boolean {
    return this.owned.has(subject);
  }
}
