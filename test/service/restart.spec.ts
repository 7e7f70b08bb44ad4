/**
 * Crash safety, as an operator would check it: two farms stream reports to a service process that is
 * killed with SIGKILL mid-stream and restarted on the same data. Every acknowledged report is in the
 * log at the position it was acknowledged with, retries append nothing, and the JetStream notification
 * stream holds each event exactly once although the notifier re-publishes after the crash.
 */
import 'reflect-metadata';
import { commandSubject, EVENTS_STREAM, formatPublicKey, generateSecretKey, SecretKey, signBody, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, headers, NatsConnection } from 'nats';
import { describeWith } from '../support/env';
import { freePort, NatsServer, startNatsServer } from '../support/nats';

const MAIN = join(__dirname, '..', '..', 'apps', 'buildgraph', 'src', 'main.ts');

interface Report {
  body: string;
  key: SecretKey;
}

describeWith(['nats-server', 'nix-instantiate'], 'a service killed mid-stream', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let dir: string;
  let port: number;
  let service: ChildProcess | undefined;
  const farm1 = generateSecretKey('farm1-1');
  const farm2 = generateSecretKey('farm2-1');
  let drvs: { drvPath: string; aterm: string; out: string }[];

  async function startService(): Promise<void> {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', MAIN], {
      env: {
        ...process.env,
        BUILDGRAPH_DATA_DIR: join(dir, 'data'),
        BUILDGRAPH_NATS_URL: nats.url,
        BUILDGRAPH_HTTP_PORT: String(port),
        BUILDGRAPH_TRUSTED_KEYS: join(dir, 'trusted-keys'),
        BUILDGRAPH_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    service = child;
    for (let i = 0; i < 600; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('service did not become ready');
  }

  async function send(r: Report): Promise<Record<string, unknown>> {
    const h = headers();
    h.set(SIGNATURE_HEADER, signBody(r.key, r.body));
    const reply = await nc.request(commandSubject('attempt.succeed'), Buffer.from(r.body), { timeout: 5000, headers: h });
    return JSON.parse(Buffer.from(reply.data).toString()) as Record<string, unknown>;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bg-restart-'));
    writeFileSync(join(dir, 'drvs.nix'), `builtins.genList (i: derivation { name = "bg-restart-\${toString i}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo \${toString i} > $out" ]; }) 40`);
    drvs = execFileSync('nix-instantiate', [join(dir, 'drvs.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n')
      .map((drvPath) => {
        const aterm = readFileSync(drvPath, 'utf8');
        return { drvPath, aterm, out: parseDerivation(aterm).outputs.out.path };
      });
    writeFileSync(join(dir, 'trusted-keys'), `farm:farm1 ${formatPublicKey(farm1)}\nfarm:farm2 ${formatPublicKey(farm2)}\n`);
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    port = await freePort();
    await startService();
  }, 60000);

  afterAll(async () => {
    service?.kill('SIGKILL');
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged report, answers retries with the original positions, and notifies once per event', async () => {
    const reports: Report[] = [];
    for (let i = 0; i < 400; i++) {
      const [farm, key] = i % 2 === 0 ? ['farm1', farm1] : ['farm2', farm2];
      const d = drvs[i % drvs.length];
      reports.push({ key, body: JSON.stringify({ attemptId: `${farm}-${i}`, drvPath: d.drvPath, farm, machine: 'm1', outputs: { out: d.out }, aterm: d.aterm }) });
    }
    const acked = new Map<string, Record<string, unknown>>();
    let killed = false;
    // both farms stream with 8 reports in flight each; the service dies after the 60th acknowledgement
    await Promise.all(
      [0, 1].flatMap((f) =>
        Array.from({ length: 8 }, async (_, lane) => {
          for (let i = f + 2 * lane; i < reports.length; i += 16) {
            const reply = await send(reports[i]).catch(() => undefined);
            if (reply?.ok === true) acked.set(reports[i].body, reply);
            if (acked.size >= 60 && !killed) {
              killed = true;
              service?.kill('SIGKILL');
            }
          }
        }),
      ),
    );
    expect(killed).toBe(true);
    const dead = service as ChildProcess;
    // a process killed by a signal has signalCode set and exitCode null
    if (dead.exitCode === null && dead.signalCode === null) await new Promise((r) => dead.once('exit', r));
    await startService();

    // every acknowledged event is in the log, at the acknowledged position
    const exported = await (await fetch(`http://127.0.0.1:${port}/v1/events?from=0`)).text();
    const log = new Map(exported.trim().split('\n').map((l) => JSON.parse(l) as { id: string; position: string; type: string }).map((e) => [e.id, e]));
    for (const reply of acked.values()) {
      for (const e of reply.events as { id: string; position: string }[]) expect(log.get(e.id)?.position).toBe(e.position);
    }

    // every report retried: acknowledged ones get the same answer, none is recorded twice
    for (const r of reports) {
      const reply = await send(r);
      expect(reply.ok).toBe(true);
      const before = acked.get(r.body);
      if (before) expect(reply).toMatchObject({ repeat: true, positions: before.positions });
    }
    const after = (await (await fetch(`http://127.0.0.1:${port}/v1/events?from=0`)).text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: { attemptId?: string } });
    const succeeded = after.filter((e) => e.type === 'AttemptSucceeded').map((e) => e.data.attemptId);
    expect(succeeded).toHaveLength(reports.length);
    expect(new Set(succeeded).size).toBe(reports.length);

    // the notification stream converges on exactly one message per event, and a new durable subscriber catches up on all of it
    const jsm = await nc.jetstreamManager();
    for (let i = 0; i < 100 && (await jsm.streams.info(EVENTS_STREAM)).state.messages < after.length; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(after.length);
    await jsm.consumers.add(EVENTS_STREAM, { durable_name: 'auditor', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: 'buildgraph.v1.events.AttemptSucceeded.>' });
    const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM, 'auditor');
    const seen = new Set<string>();
    const messages = await consumer.fetch({ max_messages: reports.length, expires: 5000 });
    for await (const m of messages) {
      seen.add((JSON.parse(Buffer.from(m.data).toString()) as { data: { attemptId: string } }).data.attemptId);
      m.ack();
    }
    expect(seen.size).toBe(reports.length);
  }, 120000);

  it('on SIGTERM answers every command it had received, records the acknowledged ones, and exits 0', async () => {
    const reports = Array.from({ length: 60 }, (_, i) => {
      const d = drvs[i % drvs.length];
      return { key: farm1, body: JSON.stringify({ attemptId: `term-${i}`, drvPath: d.drvPath, farm: 'farm1', machine: 'm1', outputs: { out: d.out } }) };
    });
    const child = service as ChildProcess;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const replies = reports.map((r) => send(r).then((reply) => reply, (e: Error) => ({ ok: false, error: { code: e.message } })));
    await replies[0];
    child.kill('SIGTERM');
    const answered = await Promise.all(replies);
    expect(await exited).toBe(0);
    // each got an answer: acknowledged, UNAVAILABLE while draining, or no responders once unsubscribed; none was left hanging
    for (const a of answered) {
      if (a.ok !== true) expect(['UNAVAILABLE', '503']).toContain((a as { error: { code: string } }).error.code);
    }
    await startService();
    const exported = await (await fetch(`http://127.0.0.1:${port}/v1/events?from=0`)).text();
    const ids = new Set(exported.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id));
    for (const a of answered.filter((x) => x.ok === true)) {
      for (const e of (a as { events: { id: string }[] }).events) expect(ids.has(e.id)).toBe(true);
    }
    expect(answered.filter((a) => a.ok === true).length).toBeGreaterThan(0);
  }, 60000);
});
