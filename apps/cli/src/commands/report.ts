import { Command } from 'commander';
import { COMMANDS, isCommandName } from '@buildgraph/contracts';
import { readFileSync } from 'node:fs';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { sendCommand, SendOptions, withServiceOptions } from './service-client';

export { secretKeyFile, sendCommand, type SendOptions } from './service-client';

/** `buildgraph report COMMAND [BODY|-]`: send any wire command, signed, and print the reply. */
export function registerReport(program: Command): void {
  withServiceOptions(program.command('report'), true)
    .argument('<command>', `one of ${COMMANDS.join(', ')}`)
    .argument('[body]', 'the JSON body, or - for stdin', '-')
    .description('send a signed command (same body as the NATS subject buildgraph.v1.<command>) and print the reply')
    .action(async (name: string, bodyArg: string, opts: SendOptions) => {
      if (!isCommandName(name)) throw new CliError(`unknown command ${name}; commands are ${COMMANDS.join(', ')}`, EXIT_BAD_INPUT);
      const body = bodyArg === '-' ? readFileSync(0, 'utf8') : bodyArg;
      const reply = await sendCommand(name, body, opts);
      process.stdout.write(JSON.stringify(reply) + '\n');
      if (reply.ok !== true) process.exitCode = 1;
    });
}
