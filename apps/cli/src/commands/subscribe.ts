import { Command } from 'commander';
import { EVENTS_STREAM, SUBJECT_PREFIX } from '@buildgraph/contracts';
import { AckPolicy, connect, DeliverPolicy } from 'nats';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/**
 * `buildgraph subscribe [--type T] [--durable NAME]`: prints notifications, one JSON event per line.
 * With --durable, a JetStream consumer of that name remembers what was printed, so a later run
 * catches up on what happened while it was away.
 */
export function registerSubscribe(program: Command): void {
  program
    .command('subscribe')
    .option('--type <EventType>', 'only this event type, e.g. ResultInvalidated')
    .option('--durable <name>', 'a durable JetStream consumer: resume where the last run stopped')
    .option('--nats <url>', 'NATS URL (default BUILDGRAPH_NATS_URL or nats://127.0.0.1:4222)')
    .description('print events as the service appends them, one JSON per line')
    .action(async (opts: { type?: string; durable?: string; nats?: string }) => {
      if (opts.type !== undefined && !/^[A-Za-z][A-Za-z0-9]*$/.test(opts.type)) throw new CliError('--type must be an event type name', EXIT_BAD_INPUT);
      if (opts.durable !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(opts.durable)) throw new CliError('--durable must be 1-64 of [A-Za-z0-9_-]', EXIT_BAD_INPUT);
      const subject = `${SUBJECT_PREFIX}events.${opts.type ?? '*'}.>`;
      const nc = await connect({ servers: (opts.nats ?? process.env.BUILDGRAPH_NATS_URL ?? 'nats://127.0.0.1:4222').split(',') });
      const print = (data: Uint8Array): void => {
        process.stdout.write(Buffer.from(data).toString('utf8') + '\n');
      };
      if (!opts.durable) {
        const sub = nc.subscribe(subject);
        // on stderr (stdout is only events): from here on, nothing published is missed
        await nc.flush();
        process.stderr.write(`subscribed to ${subject}\n`);
        for await (const m of sub) print(m.data);
        return;
      }
      const jsm = await nc.jetstreamManager().catch(() => {
        throw new CliError('--durable needs JetStream on the NATS server (nats-server -js)');
      });
      await jsm.consumers.add(EVENTS_STREAM, { durable_name: opts.durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
      const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, opts.durable);
      const messages = await consumer.consume();
      process.stderr.write(`consuming ${subject} as durable ${opts.durable}\n`);
      for await (const m of messages) {
        print(m.data);
        m.ack();
      }
    });
}
