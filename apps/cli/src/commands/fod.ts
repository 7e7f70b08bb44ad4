import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { FarmClient } from '../farm/client';
import { verifyFods } from '../farm/fod';
import { farmOptionsOf, withFarmOptions } from '../farm/options';
import { loadFarmSettings } from '../farm/settings';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** `buildgraph fod verify DRV... | --due`: re-run fixed-output fetchers and report what hash they produce. */
export function registerFod(program: Command): void {
  const fod = program.command('fod').description('fixed-output derivations: verify that their fetchers still produce the declared hash');
  withFarmOptions(fod.command('verify'))
    .description('re-execute fixed-output derivations (nix-store --realise --check) and report fod.verified or fod.mismatch')
    .argument('[drvs...]', '.drv store paths of fixed-output derivations')
    .option('--due', "verify the FODs the service's ledger lists as due (those whose .drv is in this store)")
    .option('--older-than-days <n>', 'with --due: verified longer ago than this counts as due (default: the service\'s setting)')
    .option('--nix-option <name=value>', 'a Nix setting, as --option name value (repeatable)', collect, [])
    .option('--json', 'one JSON line per derivation')
    .action(async (drvs: string[], opts: Record<string, unknown>) => {
      const settings = loadFarmSettings(farmOptionsOf(opts));
      const realiseArgs: string[] = [];
      for (const o of opts.nixOption as string[]) {
        const eq = o.indexOf('=');
        if (eq <= 0) throw new CliError(`--nix-option takes NAME=VALUE, got ${JSON.stringify(o)}`, EXIT_BAD_INPUT);
        realiseArgs.push('--option', o.slice(0, eq), o.slice(eq + 1));
      }
      const client = FarmClient.open(settings, { durability: 'process-crash' });
      const say = (l: string): void => void process.stderr.write(`${l}\n`);
      try {
        const targets = [...drvs];
        if (opts.due) {
          const params: Record<string, string> = {};
          if (typeof opts.olderThanDays === 'string') params.olderThanDays = opts.olderThanDays;
          const d = await client.query('fods-due', params);
          if (d.kind === 'unreachable') throw new CliError(`cannot ask the service which FODs are due: ${d.reason}`);
          if (!d.reply.ok) throw new CliError(`the service refused fods-due: ${d.reply.error.code}: ${d.reply.error.message}`);
          for (const f of (d.reply.fods as { currentDrvPath?: string; due?: string }[] | undefined) ?? []) {
            if (!f.currentDrvPath) continue;
            if (existsSync(f.currentDrvPath)) targets.push(f.currentDrvPath);
            else say(`buildgraph: ${f.currentDrvPath} is due (${f.due}) but not in this store; skipped`);
          }
        }
        if (targets.length === 0) {
          say(opts.due ? 'buildgraph: no FOD is due' : 'buildgraph: nothing to verify: give .drv paths or --due');
          if (!opts.due) process.exitCode = EXIT_BAD_INPUT;
          return;
        }
        const outcomes = await verifyFods(client, [...new Set(targets)], realiseArgs, { info: say, stdout: () => undefined });
        const flushed = await client.flush();
        if (flushed.unreachable) say(`buildgraph: ${flushed.remaining} report(s) queued (${flushed.unreachable}); sent on the next run`);
        for (const r of flushed.rejected) say(`buildgraph: the service refused a ${r.command}: ${r.code}: ${r.message}`);
        for (const o of outcomes) {
          if (opts.json) process.stdout.write(`${JSON.stringify(o)}\n`);
          else if (o.result === 'verified') process.stdout.write(`verified ${o.drvPath} (${o.expectedHash})\n`);
          else if (o.result === 'mismatch') process.stdout.write(`MISMATCH ${o.drvPath}: declared ${o.expectedHash}, the fetcher produced ${o.actualHash}\n`);
          else process.stdout.write(`unverified ${o.drvPath}: ${o.message}\n`);
        }
        process.exitCode = outcomes.every((o) => o.result === 'verified') ? 0 : 1;
      } finally {
        await client.close();
      }
    });
}
