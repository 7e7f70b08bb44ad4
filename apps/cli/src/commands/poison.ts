import { Command } from 'commander';
import { CommandName } from '@buildgraph/contracts';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { describeError, drvPathArg, sendCommand, SendOptions, withServiceOptions } from './service-client';

/** The reason bound the service enforces (libs/domain MAX_REASON_CHARS), checked here for a clear exit 2. */
const MAX_REASON_CHARS = 1024;

/**
 * An operator command about one derivation with a reason (`drv.poison`, `drv.clear-failure`): sends it
 * signed, prints what was recorded. Shared by `poison` and `clear-failure`.
 */
export function registerOperatorVerb(program: Command, verb: string, command: CommandName, done: string, description: string): void {
  withServiceOptions(program.command(verb), true)
    .argument('<drv>', 'the .drv store path')
    .option('--reason <text>', 'why (stored with the event; required)')
    .option('--json', 'print the reply as one JSON line')
    .description(description)
    .action(async (drv: string, opts: SendOptions & { reason?: string; json?: boolean }) => {
      const { drvPath } = drvPathArg(drv);
      if (opts.reason === undefined || opts.reason.trim() === '') throw new CliError(`${verb} needs --reason TEXT (it is stored with the event)`, EXIT_BAD_INPUT);
      if (opts.reason.length > MAX_REASON_CHARS) throw new CliError(`--reason is longer than ${MAX_REASON_CHARS} characters`, EXIT_BAD_INPUT);
      const reply = await sendCommand(command, JSON.stringify({ drvPath, reason: opts.reason }), opts);
      if (opts.json) process.stdout.write(JSON.stringify(reply) + '\n');
      if (reply.ok !== true) throw new CliError(`the service refused ${command}: ${describeError(reply)}`);
      if (opts.json) return;
      const events = (Array.isArray(reply.events) ? reply.events : []) as { type?: string; position?: string }[];
      const what = events.map((e) => `${e.type} at ${e.position}`).join(', ') || 'nothing new';
      process.stdout.write(`${done} ${drvPath}: ${what}${reply.repeat === true ? ' (already recorded)' : ''}\n`);
    });
}

/** `buildgraph poison DRV --reason R`: mark a successful result bad; downstream results are invalidated. */
export function registerPoison(program: Command): void {
  registerOperatorVerb(
    program,
    'poison',
    'drv.poison',
    'poisoned',
    "poison the derivation's successful result (bumps its serial; results built on top of it are invalidated)",
  );
}
