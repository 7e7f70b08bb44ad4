import { Command } from 'commander';

/** The `buildgraph` command. Each capability adds its subcommands in its own file. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('buildgraph')
    .description('Event-sourced record of what Nix build farms did: inspect derivations, report builds, poison results, replay history')
    .version('0.1.0');
  return program;
}
