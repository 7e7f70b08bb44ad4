import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { readFileSync } from 'node:fs';
import { parseTrustedKeys, type TrustedKey } from '@buildgraph/contracts';
import { openEventStore } from '@buildgraph/eventstore';
import { ReadStore, SignatureAuditor, compareDigests, replay } from '@buildgraph/projections';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

interface ReplayFlags {
  to?: string;
  verify?: boolean;
  store?: string;
  out: string;
  force?: boolean;
  live?: string;
  trustedKeys?: string;
  progress: boolean;
  json?: boolean;
}

/** `--to`: a log position (digits) or an ISO time. */
export function parseReplayTarget(to: string | undefined): bigint | Date | undefined {
  if (to === undefined) return undefined;
  if (/^\d{1,20}$/.test(to)) return BigInt(to);
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(to) && !Number.isNaN(Date.parse(to)))
    return new Date(to);
  throw new CliError(
    `--to must be a log position (e.g. 120000) or an ISO time (e.g. 2024-05-01T12:00:00Z), got ${JSON.stringify(to)}`,
    EXIT_BAD_INPUT,
  );
}

function loadKeys(file: string | undefined): TrustedKey[] | undefined {
  if (!file) return undefined;
  try {
    return parseTrustedKeys(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--trusted-keys ${file}: ${(e as Error).message}`, EXIT_BAD_INPUT);
  }
}

/**
 * `buildgraph replay [--to POSITION|TIME] [--verify] [--store URL] [--out FILE]`: rebuilds every read
 * model from the log into a fresh file (query it like the live one: the state at that position or
 * time). With --verify it replays to the live read store's checkpoint and compares a digest per read
 * model, and checks every stored signature.
 */
export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description(
      'rebuild all read models from the event log into a fresh file; --verify compares them with the live ones and checks signatures',
    )
    .option(
      '--to <POSITION|TIME>',
      'stop at this log position (inclusive) or before the first event recorded after this ISO time',
    )
    .option('--verify', 'compare digests with the live read store (--live) and check every stored signature')
    .option('--store <url>', 'event store: sqlite:PATH or esdb://... (default BUILDGRAPH_STORE)')
    .option('--out <file>', 'the fresh read store to write', 'buildgraph-replay.sqlite')
    .option('--force', 'overwrite --out if it exists')
    .option('--live <file>', 'the live read store to verify against (default BUILDGRAPH_READ_STORE)')
    .option(
      '--trusted-keys <file>',
      'trusted keys ("<role> <name:base64>" per line) to check signers against (default BUILDGRAPH_TRUSTED_KEYS)',
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the result as JSON')
    .action(async (flags: ReplayFlags) => {
      const storeUrl = flags.store ?? process.env.BUILDGRAPH_STORE;
      if (!storeUrl)
        throw new CliError(
          '--store is required (or set BUILDGRAPH_STORE), e.g. --store sqlite:/var/lib/buildgraph/buildgraph.sqlite',
          EXIT_BAD_INPUT,
        );
      let to = parseReplayTarget(flags.to);
      const livePath = flags.live ?? process.env.BUILDGRAPH_READ_STORE;
      if (flags.verify && !livePath)
        throw new CliError(
          '--verify needs the live read store: --live FILE (or BUILDGRAPH_READ_STORE)',
          EXIT_BAD_INPUT,
        );
      const keys = loadKeys(flags.trustedKeys ?? process.env.BUILDGRAPH_TRUSTED_KEYS);

      let liveDigests: Record<string, string> | undefined;
      if (flags.verify && livePath) {
        const live = openLive(livePath);
        // the live store keeps moving: compare at the position it had reached
        const checkpoint = live.checkpoint('projections');
        if (to !== undefined)
          throw new CliError(
            '--verify replays to the live checkpoint; do not combine it with --to',
            EXIT_BAD_INPUT,
          );
        to = checkpoint;
        liveDigests = live.digests();
        live.close();
      }

      const events = await openEventStore(storeUrl).catch((e: Error) => {
        throw new CliError(`cannot open event store ${storeUrl}: ${e.message}`);
      });
      const auditor = flags.verify ? new SignatureAuditor(keys) : undefined;
      const bar =
        flags.progress && process.stderr.isTTY
          ? new SingleBar({
              format: 'replay [{bar}] {percentage}% | {events} events | position {value}/{total}',
              stream: process.stderr,
            })
          : undefined;
      try {
        bar?.start(1, 0, { events: 0 });
        const result = await replay({
          events,
          out: flags.out,
          overwrite: flags.force,
          to,
          onBatch: auditor ? (b) => auditor.check(b) : undefined,
          onProgress: (p) => {
            if (!bar) return;
            bar.setTotal(Number(p.head));
            bar.update(Number(p.position), { events: p.events });
          },
        });
        bar?.stop();
        const comparison = liveDigests ? compareDigests(liveDigests, result.digests) : undefined;
        const signatures = auditor?.result();
        const ok = (comparison?.every((c) => c.equal) ?? true) && (signatures?.problemCount ?? 0) === 0;
        const report = {
          out: flags.out,
          position: result.position.toString(),
          events: result.events,
          seconds: Math.round(result.seconds * 10) / 10,
          digests: result.digests,
          comparison,
          signatures,
          ok,
        };
        if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else printReport(report);
        if (!ok)
          throw new CliError(
            'verification failed: the replayed read models or the signatures do not match (see above)',
            3,
          );
      } catch (e) {
        bar?.stop();
        if (e instanceof CliError) throw e;
        const code = (e as { code?: string }).code;
        throw new CliError(
          `replay failed${code ? ` (${code})` : ''}: ${(e as Error).message}`,
          code === 'INVALID_ARGUMENT' ? EXIT_BAD_INPUT : 1,
        );
      } finally {
        await events.close();
      }
    });
}

function openLive(path: string): ReadStore {
  try {
    return new ReadStore(path, { readonly: true });
  } catch (e) {
    throw new CliError(`--live ${path}: ${(e as Error).message}`, EXIT_BAD_INPUT);
  }
}

function printReport(r: {
  out: string;
  position: string;
  events: number;
  seconds: number;
  digests: Record<string, string>;
  comparison?: ReturnType<typeof compareDigests>;
  signatures?: ReturnType<SignatureAuditor['result']>;
  ok: boolean;
}): void {
  const lines = [`replayed ${r.events} events up to position ${r.position} in ${r.seconds} s into ${r.out}`];
  if (r.comparison) {
    for (const c of r.comparison)
      lines.push(
        `  ${c.equal ? 'same     ' : 'DIFFERENT'} ${c.model}  live ${c.live?.slice(0, 16) ?? '(absent)'}  replayed ${c.replayed?.slice(0, 16) ?? '(absent)'}`,
      );
  } else {
    for (const [model, digest] of Object.entries(r.digests)) lines.push(`  ${model}  ${digest}`);
  }
  if (r.signatures) {
    const s = r.signatures;
    const unsigned = Object.entries(s.unsigned)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    lines.push(
      `signatures: ${s.signed} signed, ${s.verified} verified against the stored command, ${s.notVerifiable} well-formed but not verifiable offline, ${s.problemCount} problems`,
    );
    if (unsigned) lines.push(`unsigned (policy output or legacy): ${unsigned}`);
    for (const p of s.problems) lines.push(`  position ${p.position} ${p.type} ${p.id}: ${p.problem}`);
  }
  lines.push(r.ok ? 'OK' : 'VERIFICATION FAILED');
  process.stdout.write(lines.join('\n') + '\n');
}
