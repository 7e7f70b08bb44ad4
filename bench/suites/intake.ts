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
import { instantiate, load, startNatsEcho, startService, stop } from '../support';

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
    started.push((await startService({ dataDir: join(dir, 'data'), natsUrl: nats.url, trustedKeys: join(dir, 'trusted-keys') })).child);
    started.push(await startNatsEcho(nats.url, 'bench.echo'));
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
    const acked = await load(lanes, total, ask(measured));
    if (acked.failed > 0) throw new Error(`${acked.failed} reports were refused, e.g. ${firstRefusal}`);
    const bus = await load(lanes, total, echoOnce);
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
    await Promise.all(started.map(stop));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default intake;
