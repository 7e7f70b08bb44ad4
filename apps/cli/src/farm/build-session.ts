import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { FarmClient } from './client';
import { NixLogParser } from './nix-log';
import { WRAPPED_ENV } from './options';
import { invalidPaths, readBuildLog, readStoreDrv, realisations, StoreDrv } from './nix-store';
import { failAttempt, Report, resolveAttempt, startAttempt, succeedAttempt } from './reports';

/** How long a start report may wait for others to go out with it. */
const FLUSH_DELAY_MS = 100;

/** Bytes of build log kept per attempt in memory (the end; the wire takes half of this). */
const LOG_KEEP_BYTES = 1024 * 1024;

interface Attempt {
  attemptId: string;
  /** the derivation the attempt is for (the unresolved one, for a CA derivation Nix resolved) */
  drvPath: string;
  /** what Nix actually built (the resolved twin, for a CA derivation) */
  builtDrvPath: string;
  log: string[];
  logBytes: number;
  failure?: { status: string; exitCode?: number; message: string };
  reported: boolean;
}

export interface SessionOutput {
  /** human progress lines (stderr) */
  info(line: string): void;
  /** nix-store's stdout (the output paths), passed through */
  stdout(chunk: string): void;
}

export interface RealiseResult {
  exitCode: number;
  attempts: { attemptId: string; drvPath: string; outcome: 'succeeded' | 'failed'; status?: string; message?: string }[];
}

/**
 * One `nix-store --realise` run watched through its internal-json log: each derivation Nix builds
 * becomes an attempt (start when Nix starts it; success or failure when Nix is done), each CA
 * resolution Nix prints becomes `attempt.resolve`. Reports go through the client's outbox, so a
 * service that is down only delays them.
 */
export class BuildSession {
  private readonly attempts = new Map<string, Attempt>();
  /** resolved drv -> the drv it was resolved from */
  private readonly resolvedFrom = new Map<string, string>();
  private readonly known: Map<string, StoreDrv>;

  constructor(
    private readonly client: FarmClient,
    closure: StoreDrv[],
    private readonly out: SessionOutput,
    private readonly opts: { printBuildLogs?: boolean } = {},
  ) {
    this.known = new Map(closure.map((d) => [d.drvPath, d]));
  }

  private drvOf(drvPath: string): StoreDrv {
    let d = this.known.get(drvPath);
    if (!d) {
      d = readStoreDrv(drvPath);
      this.known.set(drvPath, d);
    }
    return d;
  }

  private isFixedOutput(drvPath: string): boolean {
    try {
      return Object.values(this.drvOf(drvPath).drv.outputs).some((o) => o.hash !== '');
    } catch {
      return false;
    }
  }

  private flushTimer?: NodeJS.Timeout;

  /**
   * Queued now, sent in the background a moment later: starts that come close together (Nix starting
   * a batch of quick builds) go out as one wave instead of one round trip each. The final flush
   * sends whatever is still queued.
   */
  private report(...reports: Report[]): void {
    this.client.enqueue(...reports);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.client.flush().catch(() => undefined);
    }, FLUSH_DELAY_MS);
  }

  async realise(roots: string[], nixArgs: string[]): Promise<RealiseResult> {
    const parser = new NixLogParser((p) => this.isFixedOutput(p));
    const child = spawn('nix-store', ['--realise', ...roots, '--log-format', 'internal-json', '-v', ...nixArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // a post-build-hook in nix.conf sees this and leaves the reporting to us (a local store passes our environment on)
      env: { ...process.env, [WRAPPED_ENV]: '1' },
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => this.out.stdout(c));
    const lines = createInterface({ input: child.stderr, crlfDelay: Infinity });
    const exited = new Promise<number>((resolve) => {
      child.once('error', (e) => {
        this.out.info(`cannot run nix-store: ${e.message}`);
        resolve(127);
      });
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)));
    });
    // Ctrl-C reaches nix-store too (same process group): let it stop its builds, then report how far it got
    const interrupted = (sig: NodeJS.Signals): void => {
      this.out.info(`buildgraph: ${sig}: waiting for nix-store to stop, then reporting`);
      if (child.exitCode === null) child.kill(sig);
    };
    process.on('SIGINT', interrupted);
    process.on('SIGTERM', interrupted);
    for await (const line of lines) {
      for (const ev of parser.parse(line)) {
        switch (ev.type) {
          case 'build-started':
            this.started(ev.drvPath);
            this.out.info(ev.text || `building '${ev.drvPath}'`);
            break;
          case 'build-log': {
            const a = this.attemptFor(ev.drvPath);
            if (a) this.keepLog(a, ev.line);
            if (this.opts.printBuildLogs) this.out.info(`${nameOf(ev.drvPath)}> ${ev.line}`);
            break;
          }
          case 'resolved':
            this.resolvedFrom.set(ev.resolvedDrvPath, ev.drvPath);
            break;
          case 'build-failed': {
            const a = this.attemptFor(ev.drvPath);
            if (a && !a.failure) a.failure = { status: ev.status, exitCode: ev.exitCode, message: ev.message };
            this.out.info(`error: ${ev.message}`);
            // Nix leaves the log out of its message when verbose (-v, which we pass): show its end as Nix would
            if (a && a.log.length > 0 && !this.opts.printBuildLogs) this.out.info(['       last 10 log lines:', ...a.log.slice(-10).map((l) => `       > ${l}`)].join('\n'));
            break;
          }
          case 'build-stopped':
            break;
          case 'message':
            if (ev.level <= 1 || (ev.level <= 3 && !/^(querying|downloading|copying)/.test(ev.text))) this.out.info(ev.text);
            break;
        }
      }
    }
    const exitCode = await exited;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await this.finish(exitCode === 0);
    return {
      exitCode,
      attempts: [...this.attempts.values()].map((a) => ({
        attemptId: a.attemptId,
        drvPath: a.drvPath,
        outcome: a.failure ? 'failed' : 'succeeded',
        ...(a.failure ? { status: a.failure.status, message: a.failure.message } : {}),
      })),
    };
  }

  private attemptFor(builtDrvPath: string): Attempt | undefined {
    return this.attempts.get(this.resolvedFrom.get(builtDrvPath) ?? builtDrvPath);
  }

  private keepLog(a: Attempt, line: string): void {
    a.log.push(line);
    a.logBytes += line.length + 1;
    while (a.logBytes > LOG_KEEP_BYTES && a.log.length > 1) a.logBytes -= a.log.shift()!.length + 1;
  }

  private started(builtDrvPath: string): void {
    const drvPath = this.resolvedFrom.get(builtDrvPath) ?? builtDrvPath;
    const a: Attempt = { attemptId: randomUUID(), drvPath, builtDrvPath, log: [], logBytes: 0, reported: false };
    this.attempts.set(drvPath, a);
    const d = this.drvOf(drvPath);
    this.report(startAttempt(this.client.settings, { attemptId: a.attemptId, drvPath, startedAt: new Date().toISOString(), aterm: d.aterm }));
  }

  /** The output paths each input derivation contributed, as `<drvPath>^<out>` -> path. */
  private async inputRealisations(d: StoreDrv): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const [inputPath, outs] of Object.entries(d.drv.inputDrvs)) {
      const input = this.drvOf(inputPath);
      const missing: string[] = [];
      for (const out of outs) {
        const path = input.drv.outputs[out]?.path;
        if (path) result[`${inputPath}^${out}`] = path;
        else missing.push(out);
      }
      Object.assign(result, Object.fromEntries(Object.entries(await realisations(inputPath, missing)).map(([o, p]) => [`${inputPath}^${o}`, p])));
    }
    return result;
  }

  private async outputsOf(d: StoreDrv): Promise<Record<string, string>> {
    const outputs: Record<string, string> = {};
    const floating: string[] = [];
    for (const [name, o] of Object.entries(d.drv.outputs)) {
      if (o.path) outputs[name] = o.path;
      else floating.push(name);
    }
    return { ...outputs, ...(await realisations(d.drvPath, floating)) };
  }

  /** After Nix exits: every attempt ends, as a success (its outputs are valid) or a failure. */
  private async finish(nixSucceeded: boolean): Promise<void> {
    const pending = [...this.attempts.values()].filter((a) => !a.reported);
    const outputs = new Map<Attempt, Record<string, string>>();
    for (const a of pending) if (!a.failure) outputs.set(a, await this.outputsOf(this.drvOf(a.drvPath)));
    // nix-store exits 0 only when every build it started succeeded and registered its outputs
    const invalid = nixSucceeded ? new Set<string>() : await invalidPaths([...outputs.values()].flatMap((o) => Object.values(o)));
    const now = new Date().toISOString();
    const reports: Report[] = [];
    for (const a of pending) {
      const d = this.drvOf(a.drvPath);
      const outs = outputs.get(a);
      const wanted = Object.keys(d.drv.outputs);
      const ok = outs !== undefined && wanted.every((n) => outs[n] !== undefined && !invalid.has(outs[n]));
      const resolved = a.builtDrvPath !== a.drvPath;
      const inputRealisations = resolved || ok ? await this.inputRealisations(d) : {};
      if (resolved) reports.push(resolveAttempt(this.client.settings, { attemptId: a.attemptId, drvPath: a.drvPath, inputRealisations }));
      if (ok && outs) {
        reports.push(succeedAttempt(this.client.settings, { attemptId: a.attemptId, drvPath: a.drvPath, outputs: outs, inputRealisations, finishedAt: now }));
      } else {
        const failure = a.failure ?? { status: 'MiscFailure', message: `nix-store stopped before '${a.builtDrvPath}' finished` };
        const log = a.log.length > 0 ? a.log.join('\n') : ((await readBuildLog(a.builtDrvPath)) ?? '');
        // Nix's own verdict closes the log, as `nix log` users see it in the terminal
        const text = `${log.replace(/\n$/, '')}\n${failure.message}\n`;
        reports.push(failAttempt(this.client.settings, { attemptId: a.attemptId, drvPath: a.drvPath, status: failure.status, exitCode: failure.exitCode, log: text, finishedAt: now }));
        if (!a.failure) a.failure = failure;
      }
      a.reported = true;
    }
    if (reports.length > 0) this.client.enqueue(...reports);
  }
}

function nameOf(drvPath: string): string {
  return drvPath.slice(drvPath.lastIndexOf('/') + 34).replace(/\.drv$/, '');
}
