/**
 * The bus goes away under load: nats-server is restarted (same port, same JetStream directory) while
 * two farms stream reports. Clients and the service reconnect; farms retry what was not acknowledged
 * (same body, same ids); at the end every report is recorded exactly once and every acknowledgement
 * points at its event.
 */
import 'reflect-metadata';
import { commandSubject } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { NatsServer, startNatsServer } from '../support/nats';
import { Harness, startHarness } from './harness';

describeWith(['nats-server', 'nix-instantiate'], 'nats-server restarted under load', () => {
  let h: Harness;
  let restarted: NatsServer | undefined;
  let drvs: { drvPath: string; aterm: string; out: string }[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bg-busrestart-'));
    writeFileSync(join(dir, 'drvs.nix'), `builtins.genList (i: derivation { name = "bg-bus-\${toString i}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo \${toString i} > $out" ]; }) 20`);
    drvs = execFileSync('nix-instantiate', [join(dir, 'drvs.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n')
      .map((drvPath) => {
        const aterm = readFileSync(drvPath, 'utf8');
        return { drvPath, aterm, out: parseDerivation(aterm).outputs.out.path };
      });
    h = await startHarness();
  });
  afterAll(async () => {
    await restarted?.stop(true);
    await h?.stop();
  });

  it('loses nothing acknowledged and records each retried report once', async () => {
    const acks = new Map<string, { id: string; position: string }[]>();
    let sent = 0;
    const farm = async (name: 'farm1' | 'farm2'): Promise<void> => {
      const key = name === 'farm1' ? h.keys.farm1 : h.keys.farm2;
      for (let i = 0; i < 150; i++) {
        const d = drvs[i % drvs.length];
        const body = { attemptId: `${name}-${i}`, drvPath: d.drvPath, farm: name, machine: 'm1', outputs: { out: d.out }, aterm: d.aterm };
        // a farm retries the same report until it is acknowledged
        for (;;) {
          const reply = await h.request(commandSubject('attempt.succeed'), body, key).catch(() => undefined);
          sent++;
          if (reply?.ok === true) {
            acks.set(body.attemptId, reply.events as { id: string; position: string }[]);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const restart = (async () => {
      while (acks.size < 60) await new Promise((r) => setTimeout(r, 10));
      await h.nats.stop(true);
      restarted = await startNatsServer({ port: h.nats.port, storeDir: h.nats.storeDir });
    })();
    await Promise.all([farm('farm1'), farm('farm2'), restart]);
    expect(restarted).toBeDefined();
    expect(sent).toBeGreaterThanOrEqual(300);

    const exported = (await h.http('GET', '/v1/events?from=0')).text.trim().split('\n').map((l) => JSON.parse(l) as { id: string; position: string; type: string; data: { attemptId?: string } });
    const succeeded = exported.filter((e) => e.type === 'AttemptSucceeded').map((e) => e.data.attemptId);
    expect(succeeded).toHaveLength(300);
    expect(new Set(succeeded).size).toBe(300);
    const byId = new Map(exported.map((e) => [e.id, e.position]));
    for (const events of acks.values()) for (const e of events) expect(byId.get(e.id)).toBe(e.position);
  }, 90000);
});
