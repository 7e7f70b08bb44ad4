import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { BuildSession, RealiseResult, SessionOutput } from './build-session';
import { FarmClient } from './client';
import { drvClosure, instantiate, invalidPaths, StoreDrv } from './nix-store';
import { registerDrv } from './reports';
import { describeCachedFailure, ShouldBuildAsker, Verdict } from './should-build';

export interface NixBuildOptions {
  /** .drv store paths and .nix files */
  targets: string[];
  /** nix-instantiate arguments for .nix targets (-A, --arg, --argstr) */
  instantiateArgs: string[];
  /** nix-store --realise arguments (--option, --keep-going, -j, --check, ...) */
  realiseArgs: string[];
  rebuildFailed: boolean;
  /** wait up to this many seconds for a transient failure's retry-after, then build (default 0: do not wait) */
  waitRetryS?: number;
  printBuildLogs: boolean;
  /** asks the user (on a terminal); absent = not interactive */
  confirm?: (question: string) => Promise<boolean>;
}

export interface NixBuildResult extends Partial<RealiseResult> {
  exitCode: number;
  /** derivations not built because of a cached failure */
  skipped: string[];
  /** reports still queued (service unreachable) */
  queued: number;
  /** seconds spent before Nix started, while it ran, and reporting after it exited */
  timings?: { prepareS: number; realiseS: number; reportS: number };
}

/** Exit code when a cached failure stops the build: Nix's own code for "some builds failed". */
export const EXIT_BUILD_FAILED = 100;

async function roots(targets: string[], args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    if (t.endsWith('.drv')) {
      if (!t.startsWith('/')) throw new CliError(`${t}: a derivation must be given by its store path`, EXIT_BAD_INPUT);
      out.push(t.replace(/!.*$/, ''));
    } else {
      out.push(...(await instantiate(t, args)));
    }
  }
  if (out.length === 0) throw new CliError('nothing to build: give .drv store paths or .nix files', EXIT_BAD_INPUT);
  return [...new Set(out)];
}

function isPoisoned(v: Verdict | undefined): boolean {
  return v?.decision === 'build' && v.poisoned === true;
}

/** The derivations of the closure Nix will build: some output not valid here (a floating CA output counts as missing). */
async function toBuild(closure: StoreDrv[]): Promise<StoreDrv[]> {
  const paths = closure.flatMap((d) => Object.values(d.drv.outputs).map((o) => o.path).filter(Boolean));
  const invalid = await invalidPaths(paths);
  return closure.filter((d) => Object.values(d.drv.outputs).some((o) => !o.path || invalid.has(o.path)));
}

/**
 * `buildgraph nix-build`: what `nix-build` does, with the service in the loop. The closure's
 * derivations that Nix is about to build are checked against the negative cache; a
 * cached failure stops the run before Nix starts (unless overridden); then Nix builds and every attempt
 * is reported. The service being down never stops a build: reports wait in the outbox.
 */
export async function nixBuild(client: FarmClient, opts: NixBuildOptions, out: SessionOutput): Promise<NixBuildResult> {
  const t0 = process.hrtime.bigint();
  const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;
  const rootPaths = await roots(opts.targets, opts.instantiateArgs);
  const closure = drvClosure(rootPaths);
  const building = await toBuild(closure);
  // with an evaluator key, the whole closure is registered first, so the service knows the graph even
  // for what is not built here; without one, each drv is registered by its first attempt's report
  if (client.settings.registerKey) client.enqueue(...closure.map((d) => registerDrv(d.aterm, d.drvPath)));
  // whatever an earlier run left queued goes first, and tells us whether the service is there
  const registered = await client.flush();
  let verdicts = new Map<string, Verdict | undefined>();
  let unreachable = registered.unreachable;
  if (!unreachable) {
    const asker = new ShouldBuildAsker(client);
    // the whole closure: a result that is valid here may have been poisoned since
    verdicts = await asker.askAll(closure.map((d) => d.drvPath));
    unreachable = asker.unreachable;
  }
  if (unreachable) out.info(`buildgraph: the service is unreachable (${unreachable}); building without its negative cache, reports are queued`);
  let cached = building.flatMap((d) => {
    const v = verdicts.get(d.drvPath);
    return v && (v.decision === 'skip-cached-failure' || v.decision === 'retry-after') ? [{ drvPath: d.drvPath, v }] : [];
  });
  // transient failures whose backoff ends soon enough: wait for it, then retry them
  const waitUntil = Date.now() + (opts.waitRetryS ?? 0) * 1000;
  const soon = cached.filter(({ v }) => v.decision === 'retry-after' && Date.parse(v.retryAt) <= waitUntil);
  if (soon.length > 0 && !opts.rebuildFailed) {
    const until = Math.max(...soon.map(({ v }) => Date.parse((v as { retryAt: string }).retryAt)));
    out.info(`buildgraph: ${soon.length} transient failure(s); retrying at ${new Date(until).toISOString()}`);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
    cached = cached.filter((c) => !soon.includes(c));
  }
  if (cached.length > 0 && !opts.rebuildFailed) {
    for (const { drvPath, v } of cached) {
      out.info(v.decision === 'skip-cached-failure' ? describeCachedFailure(drvPath, v) : `${drvPath} failed transiently (${v.reason}); retry after ${v.retryAt}`);
    }
    const go = opts.confirm ? await opts.confirm('build anyway? [y/N] ') : false;
    if (!go) {
      if (!opts.confirm) out.info('buildgraph: not building; pass --rebuild-failed to build anyway');
      const q = await client.flush();
      return { exitCode: EXIT_BUILD_FAILED, skipped: cached.map((c) => c.drvPath), queued: q.remaining };
    }
  }
  // a poisoned or invalidated result must never be reused silently: Nix rebuilds it first (--check);
  // if the rebuild does not reproduce it, the run stops there
  const poisoned = closure.filter((d) => !building.includes(d) && isPoisoned(verdicts.get(d.drvPath)));
  if (poisoned.length > 0) {
    out.info(`buildgraph: rebuilding ${poisoned.length} derivation(s) whose result was poisoned or invalidated (nix-store --check)`);
    const check = await new BuildSession(client, closure, out, { printBuildLogs: opts.printBuildLogs }).realise(
      poisoned.map((d) => d.drvPath),
      ['--check', ...opts.realiseArgs.filter((a) => a !== '--check')],
    );
    if (check.exitCode !== 0) {
      const q = await client.flush();
      out.info('buildgraph: the poisoned result was not reproduced; not building what depends on it');
      return { ...check, skipped: [], queued: q.remaining };
    }
  }
  const session = new BuildSession(client, closure, out, { printBuildLogs: opts.printBuildLogs });
  const t1 = process.hrtime.bigint();
  const result = await session.realise(rootPaths, opts.realiseArgs);
  const t2 = process.hrtime.bigint();
  const final = await client.flush();
  if (final.unreachable) out.info(`buildgraph: ${final.remaining} report(s) queued in ${client.outbox.file} (${final.unreachable}); they are sent on the next run`);
  for (const r of final.rejected) out.info(`buildgraph: the service refused a ${r.command}: ${r.code}: ${r.message}`);
  return { ...result, skipped: [], queued: final.remaining, timings: { prepareS: Number(t1 - t0) / 1e9, realiseS: Number(t2 - t1) / 1e9, reportS: since(t2) } };
}
