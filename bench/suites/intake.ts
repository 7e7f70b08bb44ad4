/**
 * `npm run bench -- intake [--quick]`: 8 concurrent farm clients send ~1 KB signed attempt reports
 * (attempt.succeed carrying the drv's ATerm, so an unseen drv is registered on the way) over NATS
 * request/reply to a service process on the embedded SQLite store. Measures acknowledged reports/s
 * and p50/p99 ack latency; beneath it, the bus limit: a bare NATS echo responder (its own process, as
 * the service is) answering the same payloads at the same concurrency; and the ratio.
 * Derivations come from nix-instantiate (2048, or 512 with --quick), so most reports are for a drv with
 * few attempts, as on a farm.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, NatsConnection } from 'nats';
import { commandSubject, formatPublicKey, generateSecretKey, signer, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { startNatsServer } from '../../test/support/nats';
import { percentile, round, secondsSince, type BenchResult, type BenchSuite } from '../harness';

const CLIENTS = 8;
/** requests each client keeps outstanding: a farm reports many builds at once */
const WINDOW = 32;

interface Drv {
  drvPath: string;
  aterm: string;
  out: string;
}

function instantiate(dir: string, count: number): Drv[] {
  // a description in the environment brings the report (which carries the ATerm) to about 1 KB
  const description = 'a derivation of the intake benchmark, padded to the size of a typical report. '.repeat(6);
  const expr = `builtins.genList (i: derivation { name = "bench-intake-\${toString i}"; system = "x86_64-linux"; builder = "/bin/sh"; description = "${description}"; args = [ "-c" "echo \${toString i} > $out" ]; }) ${count}`;
  writeFileSync(join(dir, 'drvs.nix'), expr);
  const paths = execFileSync('nix-instantiate', [join(dir, 'drvs.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  return paths.map((drvPath) => {
    const aterm = readFileSync(drvPath, 'utf8');
    return { drvPath, aterm, out: parseDerivation(aterm).outputs.out.path };
  });
}

/** Runs `send` for `total` requests spread over CLIENTS connections with WINDOW outstanding each. */
async function load(conns: NatsConnection[], total: number, send: (nc: NatsConnection, i: number) => Promise<boolean>): Promise<{ perS: number; p50: number; p99: number; failed: number }> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    conns.flatMap((nc) =>
      Array.from({ length: WINDOW }, async () => {
        for (let i = next++; i < total; i = next++) {
          const t = process.hrtime.bigint();
          if (!(await send(nc, i))) failed++;
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }),
    ),
  );
  const seconds = secondsSince(started);
  return { perS: (total - failed) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${seen.slice(-2000)}`)), 30000);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${seen.slice(-2000)}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const intake: BenchSuite = async ({ quick }): Promise<BenchResult> => {
  const total = quick ? 6000 : 40000;
  const dir = mkdtempSync(join(tmpdir(), 'bg-bench-intake-'));
  const nats = await startNatsServer({ jetstream: true });
  const drvs = instantiate(dir, quick ? 512 : 2048);
  const farm = generateSecretKey('farm1-1');
  writeFileSync(join(dir, 'trusted-keys'), `farm:farm1 ${formatPublicKey(farm)}\n`);
  const sign = signer(farm);
  const service = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []), '-r', '@swc-node/register', join(__dirname, '..', '..', 'apps', 'buildgraph', 'src', 'main.ts')], {
    env: {
      ...process.env,
      BUILDGRAPH_DATA_DIR: join(dir, 'data'),
      BUILDGRAPH_NATS_URL: nats.url,
      BUILDGRAPH_HTTP_PORT: '0',
      BUILDGRAPH_TRUSTED_KEYS: join(dir, 'trusted-keys'),
      BUILDGRAPH_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const echo = spawn(
    process.execPath,
    ['-e', `const {connect}=require('nats');connect({servers:${JSON.stringify(nats.url)}}).then(nc=>{nc.subscribe('bench.echo',{queue:'echo',callback:(e,m)=>m.respond(m.data)});console.log('echo ready')})`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await Promise.all([waitForLine(service, /listening on/, 'the service'), waitForLine(echo, /echo ready/, 'the echo responder')]);
    const conns = await Promise.all(Array.from({ length: CLIENTS }, () => connect({ servers: nats.url })));
    const bodies = (run: string, n: number): string[] =>
      Array.from({ length: n }, (_, i) => {
        const d = drvs[i % drvs.length];
        return JSON.stringify({ attemptId: `${run}-${i}`, drvPath: d.drvPath, farm: 'farm1', machine: `builder-${i % 8}-farm1-example-org`, outputs: { out: d.out }, aterm: d.aterm });
      });
    let firstRefusal = '';
    const warm = bodies('warm', 500);
    const measured = bodies('run', total);
    const payloadBytes = Math.round(measured.reduce((n, b) => n + Buffer.byteLength(b), 0) / measured.length);
    // signed before the clock starts: the bench measures the service, not the clients' signing
    const signatures = new Map([...warm, ...measured].map((b) => [b, sign(b)]));
    const ask = (bodyList: string[]) => async (nc: NatsConnection, i: number): Promise<boolean> => {
      const h = headers();
      h.set(SIGNATURE_HEADER, signatures.get(bodyList[i]) as string);
      const reply = await nc.request(commandSubject('attempt.succeed'), Buffer.from(bodyList[i]), { timeout: 30000, headers: h });
      const r = JSON.parse(Buffer.from(reply.data).toString()) as { ok: boolean };
      if (!r.ok && !firstRefusal) firstRefusal = JSON.stringify(r);
      return r.ok;
    };
    const echoOnce = async (nc: NatsConnection, i: number): Promise<boolean> => {
      const reply = await nc.request('bench.echo', Buffer.from(measured[i]), { timeout: 30000 });
      return reply.data.length > 0;
    };
    await load(conns, warm.length, ask(warm));
    const acked = await load(conns, total, ask(measured));
    if (acked.failed > 0) throw new Error(`${acked.failed} reports were refused, e.g. ${firstRefusal}`);
    const bus = await load(conns, total, echoOnce);
    await Promise.all(conns.map((c) => c.close()));
    return {
      metrics: {
        intake_payload_bytes: payloadBytes,
        intake_clients: CLIENTS,
        intake_in_flight: CLIENTS * WINDOW,
        intake_acked_reports_per_s: Math.round(acked.perS),
        intake_ack_p50_ms: round(acked.p50),
        intake_ack_p99_ms: round(acked.p99),
      },
      limits: {
        nats_echo_requests_per_s: Math.round(bus.perS),
        nats_echo_p50_ms: round(bus.p50),
        nats_echo_p99_ms: round(bus.p99),
      },
      ratios: { intake_to_nats_echo: round(acked.perS / bus.perS) },
    };
  } finally {
    await Promise.all([stop(service), stop(echo)]);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default intake;
