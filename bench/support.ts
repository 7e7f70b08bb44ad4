/**
 * What the service benchmarks (intake, query) share: real derivations from nix-instantiate, the service
 * and the raw-limit responders in their own processes (as in production), and a closed-loop load driver
 * that records per-request latency.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDerivation } from '@buildgraph/nix';
import { percentile, secondsSince } from './harness';

export interface Drv {
  drvPath: string;
  aterm: string;
  out: string;
}

/**
 * `count` derivations named `<prefix>-<i>`, instantiated by real Nix in `dir`. `description` (an env
 * attribute) pads the ATerm, e.g. to bring a report carrying it to about 1 KB.
 */
export function instantiate(dir: string, count: number, prefix: string, description = ''): Drv[] {
  const expr = `builtins.genList (i: derivation { name = "${prefix}-\${toString i}"; system = "x86_64-linux"; builder = "/bin/sh"; description = "${description}"; args = [ "-c" "echo \${toString i} > $out" ]; }) ${count}`;
  writeFileSync(join(dir, `${prefix}.nix`), expr);
  const paths = execFileSync('nix-instantiate', [join(dir, `${prefix}.nix`)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  return paths.map((drvPath) => {
    const aterm = readFileSync(drvPath, 'utf8');
    return { drvPath, aterm, out: parseDerivation(aterm).outputs.out.path };
  });
}

export interface LoadResult {
  perS: number;
  p50: number;
  p99: number;
  failed: number;
}

/**
 * Sends `total` requests through `lanes` (one closed loop per lane: a lane sends its next request when
 * the previous one is answered, so lanes.length is the concurrency) and measures each request's latency.
 */
export async function load<L>(lanes: L[], total: number, send: (lane: L, i: number) => Promise<boolean>): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    lanes.map(async (lane) => {
      for (let i = next++; i < total; i = next++) {
        const t = process.hrtime.bigint();
        if (!(await send(lane, i))) failed++;
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = secondsSince(started);
  return { perS: (total - failed) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

/** Resolves with everything the child printed once its stdout or stderr matches `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${seen.slice(-2000)}`)), 30000);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${seen.slice(-2000)}`)));
  });
}

/** SIGTERM, and wait until it has exited. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The service (apps/buildgraph) in its own process on the embedded store in `dataDir`, with NATS and an
 * HTTP port of its choosing; resolves once it listens, with its HTTP URL. BENCH_CPU_PROF=DIR profiles it.
 */
export async function startService(opts: { dataDir: string; natsUrl: string; trustedKeys: string }): Promise<{ child: ChildProcess; url: string }> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...profile, '-r', '@swc-node/register', join(__dirname, '..', 'apps', 'buildgraph', 'src', 'main.ts')], {
    env: {
      ...process.env,
      BUILDGRAPH_DATA_DIR: opts.dataDir,
      BUILDGRAPH_NATS_URL: opts.natsUrl,
      BUILDGRAPH_HTTP_PORT: '0',
      BUILDGRAPH_TRUSTED_KEYS: opts.trustedKeys,
      BUILDGRAPH_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // the log line is JSON: {"msg":"buildgraph listening on http://...:PORT"}
  const listening = /listening on (https?:\/\/[^\s"]+)"/;
  const seen = await waitForLine(child, listening, 'the service').catch(async (e: unknown) => {
    await stop(child);
    throw e;
  });
  return { child, url: listening.exec(seen)?.[1] ?? '' };
}

/** The bus limit: a bare NATS responder in its own process echoing every request on `subject`. */
export async function startNatsEcho(natsUrl: string, subject: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', `const {connect}=require('nats');connect({servers:${JSON.stringify(natsUrl)}}).then(nc=>{nc.subscribe(${JSON.stringify(subject)},{queue:'echo',callback:(e,m)=>m.respond(m.data)});console.log('echo ready')})`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitForLine(child, /echo ready/, 'the echo responder');
  return child;
}

/**
 * The HTTP limit: a bare node http server in its own process answering every request with `body`
 * (application/json), keep-alive on; resolves with its URL.
 */
export async function startConstantHttp(body: string): Promise<{ child: ChildProcess; url: string }> {
  const script = `const http=require('node:http');const b=Buffer.from(${JSON.stringify(body)});
const s=http.createServer((q,r)=>{q.resume();q.on('end',()=>{r.writeHead(200,{'content-type':'application/json; charset=utf-8','content-length':b.length});r.end(b)})});
s.keepAliveTimeout=60000;s.listen(0,'127.0.0.1',()=>console.log('constant http on http://127.0.0.1:'+s.address().port))`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen = await waitForLine(child, /constant http on \S+/, 'the constant HTTP server');
  return { child, url: /constant http on (\S+)/.exec(seen)?.[1] ?? '' };
}

/**
 * CPU seconds (user + system) a process has used so far, all threads and its main thread alone, from
 * /proc (Linux). Steadier than wall time on a shared machine: what a request costs, not how long it waited.
 */
export function cpuSeconds(pid: number): { total: number; main: number } {
  const ticks = (file: string): number => {
    const fields = readFileSync(file, 'utf8').replace(/^.*\) /s, '').split(' ');
    // after "(comm) ": state is field 0, so utime and stime (fields 14 and 15 of stat) are 11 and 12
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  };
  return { total: ticks(`/proc/${pid}/stat`), main: ticks(`/proc/${pid}/task/${pid}/stat`) };
}

/** sysconf(_SC_CLK_TCK): 100 on every Linux Node supports */
const CLOCK_TICKS = 100;

/** Waits until a process has been (nearly) idle for `quietMs`: its background work (read models, notifier) is done. */
export async function untilIdle(pid: number, quietMs = 500, maxMs = 120000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = cpuSeconds(pid).total;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = cpuSeconds(pid).total;
    if (now - last < (0.05 * quietMs) / 1000) return;
    last = now;
  }
}

/** CPU ticks per thread of a process (BENCH_THREADS=1 diagnostics: which thread costs what). */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}
