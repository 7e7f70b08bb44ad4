import { Command } from 'commander';
import { CliError } from '../cli-error';
import { FarmClient } from '../farm/client';
import { readHookEnv, runHook } from '../farm/hook';
import { farmOptionsOf, withFarmOptions, WRAPPED_ENV } from '../farm/options';
import { loadFarmSettings } from '../farm/settings';

/**
 * `buildgraph post-build-hook`, for nix.conf's `post-build-hook`. Exits 0 once the report is durably
 * queued, even when the service is down (it is sent later): a hook that fails makes Nix fail the build,
 * and the build itself went fine. It exits non-zero only when it cannot keep the report at all
 * (bad settings, unusable state dir), which an operator must fix.
 */
export function registerPostBuildHook(program: Command): void {
  withFarmOptions(program.command('post-build-hook'))
    .description('report the build Nix just finished (reads DRV_PATH and OUT_PATHS); for post-build-hook in nix.conf')
    .action(async (opts: Record<string, unknown>) => {
      if (process.env[WRAPPED_ENV] === '1') return; // `buildgraph nix-build` reports this build itself
      const settings = loadFarmSettings(farmOptionsOf(opts));
      const input = readHookEnv(process.env);
      // a hook blocks Nix's build loop: one try, short timeout; the outbox keeps the rest for later
      const client = FarmClient.open({ ...settings, timeoutMs: Math.min(settings.timeoutMs, 3000) }, { tries: 1 });
      try {
        const { attemptId, flush } = await runHook(client, input);
        for (const r of flush.rejected) process.stderr.write(`buildgraph: the service refused ${r.command} for ${input.drvPath}: ${r.code}: ${r.message}\n`);
        if (flush.unreachable) {
          process.stderr.write(`buildgraph: ${flush.unreachable}; ${flush.remaining} report(s) queued in ${client.outbox.file}, sent on the next run\n`);
        }
        if (process.env.BUILDGRAPH_HOOK_VERBOSE === '1') process.stderr.write(`buildgraph: reported ${input.drvPath} as attempt ${attemptId}\n`);
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(`post-build-hook for ${input.drvPath}: ${(e as Error).message}`);
      } finally {
        await client.close();
      }
    });
}
