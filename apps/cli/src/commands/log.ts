import { Command } from 'commander';
import { CliError } from '../cli-error';
import { FarmClient } from '../farm/client';
import { findLog } from '../farm/log';
import { farmOptionsOf, withFarmOptions } from '../farm/options';
import { loadFarmSettings } from '../farm/settings';

/** `buildgraph log DRV [--attempt ID]`: print a build log like `nix log`. */
export function registerLog(program: Command): void {
  withFarmOptions(program.command('log'))
    .description("print a derivation's build log (the service's copy of a failed attempt's log, else the one Nix kept here)")
    .argument('<drv>', '.drv store path')
    .option('--attempt <id>', 'the attempt whose log to print (default: the latest failure)')
    .option('--http <url>', "the service's HTTP address, to fetch full logs when --service is a NATS URL (env BUILDGRAPH_HTTP_URL)")
    .action(async (drv: string, opts: Record<string, unknown>) => {
      const settings = loadFarmSettings(farmOptionsOf(opts));
      const client = FarmClient.open(settings, { durability: 'process-crash' });
      try {
        const httpUrl = typeof opts.http === 'string' ? opts.http : process.env.BUILDGRAPH_HTTP_URL || undefined;
        const found = await findLog(client, drv, { attemptId: typeof opts.attempt === 'string' ? opts.attempt : undefined, httpUrl });
        if ('error' in found) throw new CliError(found.error);
        if (found.source === 'service-tail') process.stderr.write(`buildgraph: only the last ${Buffer.byteLength(found.text)} bytes (pass --http to fetch the full log)\n`);
        process.stdout.write(found.text.endsWith('\n') || found.text === '' ? found.text : `${found.text}\n`);
      } finally {
        await client.close();
      }
    });
}
