import { Command } from 'commander';
import { registerDrv } from './commands/drv';
import { registerNixBuild } from './commands/nix-build';
import { registerPostBuildHook } from './commands/post-build-hook';
import { registerFod } from './commands/fod';
import { registerLog } from './commands/log';
import { registerKeys } from './commands/keys';
import { registerReport } from './commands/report';
import { registerSubscribe } from './commands/subscribe';
import { registerReplay } from './commands/replay';
import { registerPoison } from './commands/poison';
import { registerClearFailure } from './commands/clear-failure';
import { registerStatus } from './commands/status';
import { registerShouldBuild } from './commands/should-build';

/** The `buildgraph` command. Each capability adds its subcommands from its own file in commands/. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('buildgraph')
    .description('Event-sourced record of what Nix build farms did: inspect derivations, report builds, poison results, replay history')
    .version('0.1.0')
    .showHelpAfterError();
  registerDrv(program);
  registerNixBuild(program);
  registerPostBuildHook(program);
  registerFod(program);
  registerLog(program);
  registerKeys(program);
  registerReport(program);
  registerSubscribe(program);
  registerReplay(program);
  registerPoison(program);
  registerClearFailure(program);
  registerStatus(program);
  registerShouldBuild(program);
  return program;
}
