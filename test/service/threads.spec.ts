/**
 * The read models, policies and notifier run on worker threads beside the intake (docs/service.md,
 * Speed): what a client sees is the same, the read models catch up with what was appended, and the
 * operations endpoints still report how far behind each of them is.
 */
import 'reflect-metadata';
import { commandSubject, querySubject } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { Harness, startHarness } from './harness';
import { ProjectionsService } from '../../apps/buildgraph/src/projections/projections.service';
import { NotifierService } from '../../apps/buildgraph/src/notifier/notifier.service';
import type { Msg } from 'nats';

async function eventually<T>(probe: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  let last = await probe();
  for (let i = 0; i < 200 && !done(last); i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

const gauge = (metrics: string, name: string): number | undefined => {
  const m = new RegExp(`^${name} (-?\\d+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : undefined;
};

describeWith(['nats-server', 'nix-instantiate'], 'read models, policies and notifier beside the intake', () => {
  let h: Harness;
  let nixDir: string;
  let drv: { drvPath: string; aterm: string; out: string; hashPart: string };

  beforeAll(async () => {
    nixDir = mkdtempSync(join(tmpdir(), 'bg-threads-nix-'));
    writeFileSync(join(nixDir, 'd.nix'), 'derivation { name = "bg-threads-leaf"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }');
    const drvPath = execFileSync('nix-instantiate', [join(nixDir, 'd.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const aterm = readFileSync(drvPath, 'utf8');
    drv = { drvPath, aterm, out: parseDerivation(aterm).outputs.out.path, hashPart: drvPath.slice('/nix/store/'.length, '/nix/store/'.length + 32) };
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(nixDir, { recursive: true, force: true });
  });

  it('a reported success reaches the read models, and the answer names a position that includes it', async () => {
    const reply = await h.request(commandSubject('attempt.succeed'), { attemptId: 't-1', drvPath: drv.drvPath, farm: 'farm1', machine: 'm1', outputs: { out: drv.out }, aterm: drv.aterm }, h.keys.farm1);
    expect(reply).toMatchObject({ ok: true, repeat: false });
    const last = BigInt((reply.positions as string[]).at(-1) as string);
    const answer = await eventually(() => h.request(querySubject('should-build'), { hashPart: drv.hashPart }, null), (r) => r.decision === 'skip-valid');
    expect(answer).toMatchObject({ ok: true, decision: 'skip-valid' });
    expect(BigInt(answer.readModelPosition as string)).toBeGreaterThanOrEqual(last);
  });

  it('the metrics report the read models, the policies and the notifier caught up with the log', async () => {
    const metrics = await eventually(
      async () => (await h.http('GET', '/metrics')).text,
      (text) => ['buildgraph_projection_lag_events', 'buildgraph_policy_backlog_events', 'buildgraph_notifier_lag_events'].every((g) => gauge(text, g) === 0),
    );
    expect(gauge(metrics, 'buildgraph_projection_lag_events')).toBe(0);
    expect(gauge(metrics, 'buildgraph_policy_backlog_events')).toBe(0);
    expect(gauge(metrics, 'buildgraph_notifier_lag_events')).toBe(0);
  });

  it('a thread that dies is restarted and catches up from its checkpoint; the metrics count it', async () => {
    const notified: Msg[] = [];
    const sub = h.client.subscribe(`buildgraph.v1.events.AttemptSucceeded.${drv.hashPart}`, { callback: (_e, m) => notified.push(m) });
    await h.client.flush();
    const projections = h.service.app.get(ProjectionsService).supervisor;
    const notifier = h.service.app.get(NotifierService).supervisor;
    // killed as a crash would (no stop message, no last checkpoint)
    await Promise.all([projections?.thread?.terminate(), notifier?.thread?.terminate()]);
    // each is seen down and started again once (after a short backoff)
    await eventually(async () => [projections?.restarts, notifier?.restarts], ([p, n]) => p === 1 && n === 1);
    expect([projections?.restarts, notifier?.restarts]).toEqual([1, 1]);
    // a report while both are down is acknowledged (the intake does not need them) and seen once they are back
    const reply = await h.request(commandSubject('attempt.succeed'), { attemptId: 't-2', drvPath: drv.drvPath, farm: 'farm1', machine: 'm2', outputs: { out: drv.out }, aterm: drv.aterm }, h.keys.farm1);
    expect(reply).toMatchObject({ ok: true, repeat: false });
    const last = BigInt((reply.positions as string[]).at(-1) as string);
    // should-build answers from the read models (the drv query folds the stream itself): the restarted
    // projections thread has applied the report once its position reaches the report's
    const answer = await eventually(
      () => h.request(querySubject('should-build'), { hashPart: drv.hashPart }, null),
      (r) => r.ok === true && BigInt(r.readModelPosition as string) >= last,
    );
    expect(BigInt(answer.readModelPosition as string)).toBeGreaterThanOrEqual(last);
    await eventually(async () => [projections?.up, notifier?.up], ([p, n]) => p === true && n === true);
    await eventually(async () => notified.length, (n) => n >= 1);
    sub.unsubscribe();
    expect(notified.map((m) => (JSON.parse(Buffer.from(m.data).toString()) as { data: { attemptId: string } }).data.attemptId)).toContain('t-2');
    const metrics = (await h.http('GET', '/metrics')).text;
    expect(metrics).toMatch(/^buildgraph_thread_restarts_total\{thread="projections"\} 1$/m);
    expect(metrics).toMatch(/^buildgraph_thread_restarts_total\{thread="notifier"\} 1$/m);
    expect(metrics).toMatch(/^buildgraph_thread_up\{thread="projections"\} 1$/m);
    expect(metrics).toMatch(/^buildgraph_thread_up\{thread="notifier"\} 1$/m);
    const health = await h.http('GET', '/health');
    expect(health.body).toMatchObject({
      ready: true,
      checks: { projections: { ok: true, detail: 'up; restarted 1 times' }, notifier: { ok: true, detail: 'up; restarted 1 times' } },
    });
  });
});
