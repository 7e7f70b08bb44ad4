/**
 * `npm run bench -- query [--quick]`: should-build, the question every farm asks before each build,
 * against a service process on the embedded store preloaded with real derivations (nix-instantiate):
 * half valid, a quarter with a cached PermanentFailure, a quarter building, so the answers are a mix of
 * skip-valid, skip-cached-failure and wait-in-progress. Measured over HTTP keep-alive (node's
 * http.Agent) and over NATS request/reply, CONCURRENCY requests in flight each; requests/s and p50/p99.
 * Beneath each, the raw limit at the same concurrency: a bare HTTP server answering a constant reply of
 * the same bytes, and a bare NATS echo responder; and the ratios. Goals: >= 10k/s, p99 <= 10 ms.
 */
import { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, NatsConnection } from 'nats';
import { commandSubject, CommandName, formatPublicKey, generateSecretKey, querySubject, signer, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { startNatsServer } from '../../test/support/nats';
import { round, type BenchResult, type BenchSuite } from '../harness';
import { Drv, instantiate, load, startConstantHttp, startNatsEcho, startService, stop } from '../support';

/** requests in flight, over HTTP and over NATS alike */
const CONCURRENCY = 32;
/** NATS connections the in-flight requests are spread over (a few farm clients) */
const NATS_CONNECTIONS = 4;

const hashPartOf = (drvPath: string): string => drvPath.slice('/nix/store/'.length, '/nix/store/'.length + 32);

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. Per
 * request, it is what the machine's load from other work does not blur: requests/s does.
 */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** `run` under a CPU meter on `pid`: its result and the process's CPU microseconds per request (-1 where unknown). */
async function metered<T extends { perS: number; failed: number }>(pid: number | undefined, total: number, run: () => Promise<T>): Promise<T & { cpuUs: number }> {
  const before = cpuSeconds(pid);
  const r = await run();
  const after = cpuSeconds(pid);
  return { ...r, cpuUs: before === undefined || after === undefined ? -1 : round(((after - before) * 1e6) / total, 1) };
}

/** One GET on a keep-alive agent: the status and the body. */
function httpGet(agent: Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The preload: what each derivation's history is, by its index. */
function preloadCommand(d: Drv, i: number): { command: CommandName; body: object } {
  const attempt = { attemptId: `pre-${i}`, drvPath: d.drvPath, farm: 'farm1', machine: `builder-${i % 8}`, aterm: d.aterm };
  if (i % 4 === 1) return { command: 'attempt.fail', body: { ...attempt, status: 'PermanentFailure', exitCode: 1, log: `builder for '${d.drvPath}' failed with exit code 1\n` } };
  if (i % 4 === 3) return { command: 'attempt.start', body: attempt };
  return { command: 'attempt.succeed', body: { ...attempt, outputs: { out: d.out } } };
}

const query: BenchSuite = async ({ quick }): Promise<BenchResult> => {
  const total = quick ? 20000 : 100000;
  const dir = mkdtempSync(join(tmpdir(), 'bg-bench-query-'));
  const nats = await startNatsServer({ jetstream: false });
  const drvs = instantiate(dir, quick ? 2000 : 4000, 'bench-query');
  const farm = generateSecretKey('farm1-1');
  writeFileSync(join(dir, 'trusted-keys'), `farm:farm1 ${formatPublicKey(farm)}\n`);
  const sign = signer(farm);
  const started: ChildProcess[] = [];
  const conns: NatsConnection[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const service = await startService({ dataDir: join(dir, 'data'), natsUrl: nats.url, trustedKeys: join(dir, 'trusted-keys') });
    started.push(service.child, await startNatsEcho(nats.url, 'bench.echo'));
    conns.push(...(await Promise.all(Array.from({ length: NATS_CONNECTIONS }, () => connect({ servers: nats.url })))));
    const natsLanes = Array.from({ length: CONCURRENCY }, (_, i) => conns[i % conns.length]);
    const httpLanes = Array.from({ length: CONCURRENCY }, () => agent);

    // preload, and remember the last position the service acknowledged
    let head = 0n;
    let refusal = '';
    const preloaded = await load(natsLanes, drvs.length, async (nc, i) => {
      const { command, body } = preloadCommand(drvs[i], i);
      const text = JSON.stringify(body);
      const h = headers();
      h.set(SIGNATURE_HEADER, sign(text));
      const r = JSON.parse(Buffer.from((await nc.request(commandSubject(command), Buffer.from(text), { timeout: 30000, headers: h })).data).toString()) as { ok: boolean; positions?: string[] };
      for (const p of r.positions ?? []) if (BigInt(p) > head) head = BigInt(p);
      if (!r.ok && !refusal) refusal = text.slice(0, 300) + ' -> ' + JSON.stringify(r);
      return r.ok;
    });
    if (preloaded.failed > 0) throw new Error(`${preloaded.failed} preload commands were refused, e.g. ${refusal}`);

    // should-build answers from the read models: wait until they have applied the whole preload
    const urlOf = (i: number): string => `${service.url}/v1/drvs/${hashPartOf(drvs[i % drvs.length].drvPath)}/should-build`;
    for (let i = 0; ; i++) {
      const r = JSON.parse((await httpGet(agent, urlOf(0))).body) as { readModelPosition?: string };
      if (r.readModelPosition !== undefined && BigInt(r.readModelPosition) >= head) break;
      if (i > 1200) throw new Error(`the read models did not catch up with position ${head}`);
      await new Promise((res) => setTimeout(res, 50));
    }

    const decisions: Record<string, number> = {};
    let firstBad = '';
    const viaHttp = async (a: Agent, i: number): Promise<boolean> => {
      const r = await httpGet(a, urlOf(i));
      const decision = (JSON.parse(r.body) as { decision?: string }).decision;
      if (r.status !== 200 || decision === undefined) {
        firstBad ||= r.body.slice(0, 300);
        return false;
      }
      decisions[decision] = (decisions[decision] ?? 0) + 1;
      return true;
    };
    const bodies = drvs.map((d) => Buffer.from(JSON.stringify({ hashPart: hashPartOf(d.drvPath) })));
    const viaNats = async (nc: NatsConnection, i: number): Promise<boolean> => {
      const r = JSON.parse(Buffer.from((await nc.request(querySubject('should-build'), bodies[i % bodies.length], { timeout: 30000 })).data).toString()) as { ok: boolean; decision?: string };
      if (!r.ok || r.decision === undefined) firstBad ||= JSON.stringify(r).slice(0, 300);
      return r.ok && r.decision !== undefined;
    };

    // warm both paths (JIT, sockets, SQLite page cache), then measure
    await load(httpLanes, 2000, viaHttp);
    await load(natsLanes, 2000, viaNats);
    for (const k of Object.keys(decisions)) delete decisions[k];
    const http = await metered(service.child.pid, total, () => load(httpLanes, total, viaHttp));
    const bus = await metered(service.child.pid, total, () => load(natsLanes, total, viaNats));
    if (http.failed + bus.failed > 0) throw new Error(`${http.failed + bus.failed} queries failed, e.g. ${firstBad}`);

    // the raw limits: the same client, concurrency and reply bytes, with nothing behind them
    const sample = (await httpGet(agent, urlOf(0))).body;
    const constant = await startConstantHttp(sample);
    started.push(constant.child);
    const constantAgent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const rawHttpOnce = async (a: Agent): Promise<boolean> => (await httpGet(a, `${constant.url}/v1/drvs/x/should-build`)).status === 200;
    await load(Array.from({ length: CONCURRENCY }, () => constantAgent), 2000, rawHttpOnce);
    const rawHttp = await metered(constant.child.pid, total, () =>
      load(
        Array.from({ length: CONCURRENCY }, () => constantAgent),
        total,
        rawHttpOnce,
      ),
    );
    constantAgent.destroy();
    const echoOnce = async (nc: NatsConnection, i: number): Promise<boolean> => (await nc.request('bench.echo', bodies[i % bodies.length], { timeout: 30000 })).data.length > 0;
    await load(natsLanes, 2000, echoOnce);
    const rawNats = await load(natsLanes, total, echoOnce);

    return {
      metrics: {
        query_drvs_preloaded: drvs.length,
        query_concurrency: CONCURRENCY,
        query_reply_bytes: Buffer.byteLength(sample),
        query_http_answers_build: decisions.build ?? 0,
        query_http_answers_skip_valid: decisions['skip-valid'] ?? 0,
        query_http_answers_skip_cached_failure: decisions['skip-cached-failure'] ?? 0,
        query_http_answers_wait_in_progress: decisions['wait-in-progress'] ?? 0,
        should_build_http_requests_per_s: Math.round(http.perS),
        should_build_http_p50_ms: round(http.p50),
        should_build_http_p99_ms: round(http.p99),
        should_build_http_service_cpu_us_per_request: http.cpuUs,
        should_build_nats_requests_per_s: Math.round(bus.perS),
        should_build_nats_p50_ms: round(bus.p50),
        should_build_nats_p99_ms: round(bus.p99),
        should_build_nats_service_cpu_us_per_request: bus.cpuUs,
      },
      limits: {
        http_constant_requests_per_s: Math.round(rawHttp.perS),
        http_constant_p50_ms: round(rawHttp.p50),
        http_constant_p99_ms: round(rawHttp.p99),
        http_constant_server_cpu_us_per_request: rawHttp.cpuUs,
        nats_echo_requests_per_s: Math.round(rawNats.perS),
        nats_echo_p50_ms: round(rawNats.p50),
        nats_echo_p99_ms: round(rawNats.p99),
      },
      ratios: {
        should_build_http_to_http_constant: round(http.perS / rawHttp.perS),
        // the constant server's CPU per request over the service's (1 = as cheap as a bare node:http reply)
        should_build_http_cpu_constant_to_service: http.cpuUs > 0 && rawHttp.cpuUs > 0 ? round(rawHttp.cpuUs / http.cpuUs) : -1,
        should_build_nats_to_nats_echo: round(bus.perS / rawNats.perS),
      },
    };
  } finally {
    agent.destroy();
    await Promise.all(conns.map((c) => c.close()));
    await Promise.all(started.map(stop));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default query;
