import { Command } from 'commander';
import { CliError } from '../cli-error';
import { describeError, drvPathArg, sendQuery, SendOptions, withServiceOptions } from './service-client';

interface DrvStatusReply {
  status?: string;
  serial?: number;
  validOutputs?: Record<string, string>[];
  cachedFailure?: { attemptId?: string; status?: string; cause?: string; log?: { sha256?: string } } | null;
  attempts?: { attemptId?: string; farm?: string; machine?: string; outcome?: string | null; poisoned?: boolean; invalidated?: boolean }[];
}

/** The human form: the status line, then valid outputs, the cached failure and each attempt. */
function describeStatus(drvPath: string, r: DrvStatusReply): string {
  const lines = [`${drvPath}: ${r.status ?? 'unknown'} (serial ${r.serial ?? 0})`];
  for (const outputs of r.validOutputs ?? []) for (const [name, path] of Object.entries(outputs)) lines.push(`  valid ${name}: ${path}`);
  const f = r.cachedFailure;
  if (f) lines.push(`  cached failure: ${f.status} (cause ${f.cause}), attempt ${f.attemptId}${f.log?.sha256 ? `, log ${f.log.sha256}` : ''}`);
  for (const a of r.attempts ?? []) {
    const marks = [a.poisoned && 'poisoned', a.invalidated && 'invalidated'].filter(Boolean).join(', ');
    lines.push(`  attempt ${a.attemptId} on ${a.farm}/${a.machine}: ${a.outcome ?? 'running'}${marks ? ` (${marks})` : ''}`);
  }
  return lines.join('\n');
}

/** `buildgraph status DRV`: what the service knows about one derivation, from its own stream. */
export function registerStatus(program: Command): void {
  withServiceOptions(program.command('status'), false)
    .argument('<drv>', 'the .drv store path')
    .option('--json', 'print the reply as one JSON line')
    .description('show the state of a derivation: unknown, building, valid, failed, poisoned or invalidated, with its serial and attempts')
    .action(async (drv: string, opts: SendOptions & { json?: boolean }) => {
      const { drvPath, hashPart } = drvPathArg(drv);
      let reply = await sendQuery('drv', { hashPart }, opts);
      // a drv nobody reported is not an error for the operator asking: its status is unknown
      if (reply.ok !== true && reply.error?.code === 'NOT_FOUND') reply = { ok: true, drvPath, registered: false, status: 'unknown', serial: 0, validOutputs: [], cachedFailure: null, attempts: [], farms: [] };
      if (opts.json) process.stdout.write(JSON.stringify(reply) + '\n');
      if (reply.ok !== true) throw new CliError(`the service could not answer: ${describeError(reply)}`);
      if (!opts.json) process.stdout.write(describeStatus(drvPath, reply as DrvStatusReply) + '\n');
    });
}
