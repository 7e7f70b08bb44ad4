import { Command } from 'commander';
import { CliError } from '../cli-error';
import { describeError, drvPathArg, sendQuery, SendOptions, withServiceOptions } from './service-client';

/**
 * Exit code when the answer is "do not build now" (skip-valid, skip-cached-failure, retry-after,
 * wait-in-progress): not 1, so a script can tell it from a service error.
 */
export const EXIT_SKIP = 3;

interface Decision {
  decision?: string;
  reason?: string;
  retryAt?: string;
  until?: string;
  status?: string;
  cause?: string;
  logTail?: string;
  by?: { attemptId?: string; farm?: string; machine?: string };
}

function describeDecision(drvPath: string, d: Decision): string {
  const head = `${d.decision} ${drvPath}: ${d.reason ?? ''}`;
  if (d.decision === 'retry-after') return `${head} (retry at ${d.retryAt})`;
  if (d.decision !== 'skip-cached-failure') return head;
  const where = [d.by?.farm && `farm ${d.by.farm}`, d.by?.machine && `machine ${d.by.machine}`, d.by?.attemptId && `attempt ${d.by.attemptId}`].filter(Boolean).join(', ');
  const tail = (d.logTail ?? '')
    .trimEnd()
    .split('\n')
    .slice(-10)
    .map((l) => `    ${l}`)
    .join('\n');
  return [head, `  ${d.status} (cause ${d.cause}) on ${where || 'unknown'}, cached until ${d.until}`, '  log tail:', tail || '    (empty)'].join('\n');
}

/** `buildgraph should-build DRV [--force]`: the negative cache's answer; exit 0 = build, 3 = do not build now. */
export function registerShouldBuild(program: Command): void {
  withServiceOptions(program.command('should-build'), false)
    .argument('<drv>', 'the .drv store path')
    .option('--force', 'answer build whatever is cached (a retry the caller insists on)')
    .option('--json', 'print the reply as one JSON line')
    .description(`ask whether to build a derivation now: exit 0 for build, ${EXIT_SKIP} for skip-valid, skip-cached-failure, retry-after or wait-in-progress`)
    .action(async (drv: string, opts: SendOptions & { force?: boolean; json?: boolean }) => {
      const { drvPath, hashPart } = drvPathArg(drv);
      let reply = await sendQuery('should-build', { hashPart, force: opts.force === true }, opts);
      // a drv the service never heard of has nothing cached: build it
      if (reply.ok !== true && reply.error?.code === 'NOT_FOUND') reply = { ok: true, drvPath, decision: 'build', reason: 'never reported to the service' };
      if (opts.json) process.stdout.write(JSON.stringify(reply) + '\n');
      if (reply.ok !== true) throw new CliError(`the service could not answer: ${describeError(reply)}`);
      const d = reply as Decision;
      if (!opts.json) process.stdout.write(describeDecision(drvPath, d) + '\n');
      process.exitCode = d.decision === 'build' ? 0 : EXIT_SKIP;
    });
}
