import { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { FarmClient } from '../farm/client';
import { nixBuild } from '../farm/nix-build';
import { farmOptionsOf, withFarmOptions } from '../farm/options';
import { loadFarmSettings } from '../farm/settings';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function pair(flag: string, v: string): [string, string] {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new CliError(`${flag} takes NAME=VALUE, got ${JSON.stringify(v)}`, EXIT_BAD_INPUT);
  return [v.slice(0, eq), v.slice(eq + 1)];
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `buildgraph nix-build [OPTIONS] DRV|FILE.nix... [-- NIX-STORE-ARGS]` */
export function registerNixBuild(program: Command): void {
  withFarmOptions(program.command('nix-build'))
    .description('build with nix-store --realise, reporting every attempt to buildgraph and honouring its cached failures')
    .argument('<targets...>', '.drv store paths or .nix files (instantiated with -A/--arg/--argstr)')
    .option('-A, --attr <attr>', 'attribute of a .nix file to build (repeatable)', collect, [])
    .option('--arg <name=expr>', 'nix-instantiate --arg (repeatable)', collect, [])
    .option('--argstr <name=value>', 'nix-instantiate --argstr (repeatable)', collect, [])
    .option('--nix-option <name=value>', 'a Nix setting for evaluation and build, as --option name value (repeatable)', collect, [])
    .option('-K, --keep-going', 'keep building what does not depend on a failure')
    .option('-j, --max-jobs <n>', 'builds in parallel')
    .option('--check', 'rebuild derivations already built and compare')
    .option('--rebuild-failed', 'build derivations whose failure the service has cached')
    .option('--wait-retry <seconds>', "wait up to this long for a transient failure's retry time, then build it (default 0)")
    .option('-L, --print-build-logs', 'print the build logs')
    .option('--realise-arg <arg>', 'an argument passed to nix-store --realise unchanged (repeatable)', collect, [])
    .addHelpText('after', '\nExit codes: nix-store\'s; 100 when a cached failure stopped the build; 2 for bad input.')
    .action(async (targets: string[], opts: Record<string, unknown>) => {
      const settings = loadFarmSettings(farmOptionsOf(opts));
      const options: string[] = [];
      for (const o of opts.nixOption as string[]) options.push('--option', ...pair('--nix-option', o));
      const instantiateArgs = [...options];
      for (const a of opts.attr as string[]) instantiateArgs.push('-A', a);
      for (const a of opts.arg as string[]) instantiateArgs.push('--arg', ...pair('--arg', a));
      for (const a of opts.argstr as string[]) instantiateArgs.push('--argstr', ...pair('--argstr', a));
      const realiseArgs = [...options];
      if (opts.keepGoing) realiseArgs.push('--keep-going');
      if (typeof opts.maxJobs === 'string') realiseArgs.push('--max-jobs', opts.maxJobs);
      if (opts.check) realiseArgs.push('--check');
      realiseArgs.push(...(opts.realiseArg as string[]));
      const waitRetryS = opts.waitRetry === undefined ? 0 : Number(opts.waitRetry);
      if (!Number.isFinite(waitRetryS) || waitRetryS < 0) throw new CliError(`--wait-retry takes seconds >= 0, got ${JSON.stringify(opts.waitRetry)}`, EXIT_BAD_INPUT);
      const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
      // a crash of this process loses its run anyway; the hook is the one that must survive power loss
      const client = FarmClient.open(settings, { durability: 'process-crash' });
      try {
        const result = await nixBuild(
          client,
          { targets, instantiateArgs, realiseArgs, rebuildFailed: opts.rebuildFailed === true, waitRetryS, printBuildLogs: opts.printBuildLogs === true, confirm: interactive ? ask : undefined },
          { info: (l) => process.stderr.write(`${l}\n`), stdout: (c) => process.stdout.write(c) },
        );
        process.exitCode = result.exitCode;
      } finally {
        await client.close();
      }
    });
}
