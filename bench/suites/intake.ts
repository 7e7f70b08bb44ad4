/**
 * `npm run bench -- intake [--quick]`: 8 concurrent farm clients send ~1 KB signed attempt reports
 * (attempt.succeed carrying the drv's ATerm, so an unseen drv is registered on the way) over NATS
 * request/reply to a service process on the embedded SQLite store. Measures acknowledged reports/s
 * and p50/p99 ack latency; beneath it, the bus limit: a bare NATS echo responder (its own process, as
 * the service is) answering the same payloads at the same concurrency; and the ratio.
 * Derivations come from nix-instantiate (2048, or 512 with --quick), so most reports are for a drv with
 * few attempts, as on a farm.
 */
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, NatsConnection } from 'nats';
import { commandSubject, formatPublicKey, generateSecretKey, signer, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { startNatsServer } from '../../test/support/nats';
import { round, type BenchResult, type BenchSuite } from '../harness';
import { cpuSeconds, threadTicks, instantiate, load, startNatsEcho, startService, stop, untilIdle } from '../support';

const CLIENTS = 8;
/** requests each client keeps outstanding: a farm reports many builds at once */
const WINDOW = 32;
/** a description in the environment brings the report (which carries the ATerm) to about 1 KB */
const DESCRIPTION = 'a derivation of the intake benchmark, padded to the size of a typical report. '.repeat(6);

const intake: BenchSuite = async ({ quick }): Promise<BenchResult> => {
  const total = quick ? 6000 : 40000;
  const dir = mkdtempSync(join(tmpdir(), 'bg-bench-intake-'));
  const nats = await startNatsServer({ jetstream: true });
  const drvs = instantiate(dir, quick ? 512 : 2048, 'bench-intake', DESCRIPTION);
  const farm = generateSecretKey('farm1-1');
  writeFileSync(join(dir, 'trusted-keys'), `farm:farm1 ${formatPublicKey(farm)}\n`);
  const sign = signer(farm);
  const started: ChildProcess[] = [];
  try {
    const service = (await startService({ dataDir: join(dir, 'data'), natsUrl: nats.url, trustedKeys: join(dir, 'trusted-keys') })).child;
    started.push(service);
    const echo = await startNatsEcho(nats.url, 'bench.echo');
    started.push(echo);
    const conns = await Promise.all(Array.from({ length: CLIENTS }, () => connect({ servers: nats.url })));
    const lanes = conns.flatMap((nc) => Array.from({ length: WINDOW }, () => nc));
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
    await load(lanes, warm.length, ask(warm));
    await untilIdle(service.pid as number);
    const cpuBefore = cpuSeconds(service.pid as number);
    const busBefore = { nats: cpuSeconds(nats.pid).total, clients: process.cpuUsage() };
    const threadsBefore = process.env.BENCH_THREADS ? threadTicks(service.pid as number) : undefined;
    const acked = await load(lanes, total, ask(measured));
    const cpuAcked = cpuSeconds(service.pid as number);
    const clientsCpu = (since: NodeJS.CpuUsage): number => {
      const u = process.cpuUsage(since);
      return (u.user + u.system) / 1e6;
    };
    // what the rest of the machine spent on the same reports: nats-server and the 8 clients (this process)
    const intakeBus = { nats: cpuSeconds(nats.pid).total - busBefore.nats, clients: clientsCpu(busBefore.clients) };
    if (acked.failed > 0) throw new Error(`${acked.failed} reports were refused, e.g. ${firstRefusal}`);
    // read models, policies and the notifier finish the reports' events after the last ack
    await untilIdle(service.pid as number);
    const cpuAfter = cpuSeconds(service.pid as number);
    if (threadsBefore) {
      const after = threadTicks(service.pid as number);
      for (const [tid, t] of after) if (t - (threadsBefore.get(tid) ?? 0) > 0) console.error(`thread ${tid}: ${Math.round(((t - (threadsBefore.get(tid) ?? 0)) * 1e4) / total)} us/report`);
    }
    const echoBefore = { echo: cpuSeconds(echo.pid as number).total, nats: cpuSeconds(nats.pid).total, clients: process.cpuUsage() };
    const bus = await load(lanes, total, echoOnce);
    const echoCpu = cpuSeconds(echo.pid as number).total - echoBefore.echo;
    const echoBus = { nats: cpuSeconds(nats.pid).total - echoBefore.nats, clients: clientsCpu(echoBefore.clients) };
    const perReportUs = (s: number): number => Math.round((s * 1e6) / total);
    await Promise.all(conns.map((c) => c.close()));
    return {
      metrics: {
        intake_payload_bytes: payloadBytes,
        intake_clients: CLIENTS,
        intake_in_flight: CLIENTS * WINDOW,
        intake_acked_reports_per_s: Math.round(acked.perS),
        intake_ack_p50_ms: round(acked.p50),
        intake_ack_p99_ms: round(acked.p99),
        // CPU the service spent per report (all threads, including the read models and notifier
        // finishing after the last ack), and its main thread alone while acking: steady on a busy machine
        intake_service_cpu_us_per_report: perReportUs(cpuAfter.total - cpuBefore.total),
        intake_main_thread_cpu_us_per_report: perReportUs(cpuAcked.main - cpuBefore.main),
        intake_nats_server_cpu_us_per_report: perReportUs(intakeBus.nats),
        intake_clients_cpu_us_per_report: perReportUs(intakeBus.clients),
      },
      limits: {
        nats_echo_requests_per_s: Math.round(bus.perS),
        nats_echo_p50_ms: round(bus.p50),
        nats_echo_p99_ms: round(bus.p99),
        nats_echo_responder_cpu_us_per_request: perReportUs(echoCpu),
        nats_echo_nats_server_cpu_us_per_request: perReportUs(echoBus.nats),
        nats_echo_clients_cpu_us_per_request: perReportUs(echoBus.clients),
      },
      ratios: {
        intake_to_nats_echo: round(acked.perS / bus.perS),
        echo_cpu_to_intake_cpu: round(echoCpu / (cpuAfter.total - cpuBefore.total)),
      },
    };
  } finally {
    await Promise.all(started.map(stop));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default intake;
