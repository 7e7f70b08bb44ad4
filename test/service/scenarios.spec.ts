/**
 * What farms, operators and downstream subscribers see end to end, with the read models and policies
 * running in the service: a poisoning invalidates what was built on top of it and subscribers are told;
 * a cached failure is skipped until forced; a group fails as a unit; a CA derivation is resolved as
 * Nix resolves it. Derivations come from nix-instantiate and from the real-Nix vectors.
 */
import 'reflect-metadata';
import { commandSubject, querySubject } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Msg } from 'nats';
import { describeWith } from '../support/env';
import { Harness, startHarness } from './harness';

const EXPR = `
let mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
in rec {
  base = mk { name = "bg-scn-base"; args = [ "-c" "echo base > $out" ]; };
  app = mk { name = "bg-scn-app"; args = [ "-c" "echo \${base} > $out" ]; };
  flaky = mk { name = "bg-scn-flaky"; args = [ "-c" "exit 1" ]; };
  left = mk { name = "bg-scn-left"; args = [ "-c" "echo left > $out" ]; };
  right = mk { name = "bg-scn-right"; args = [ "-c" "echo right > $out" ]; };
}`;
const ATTRS = ['base', 'app', 'flaky', 'left', 'right'] as const;
type Attr = (typeof ATTRS)[number];
interface Drv {
  drvPath: string;
  aterm: string;
  hashPart: string;
  out: string;
}

const hashPartOf = (p: string): string => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);

function instantiate(): Record<Attr, Drv> {
  const dir = mkdtempSync(join(tmpdir(), 'bg-scn-nix-'));
  writeFileSync(join(dir, 'drvs.nix'), EXPR);
  const paths = execFileSync('nix-instantiate', [join(dir, 'drvs.nix'), ...ATTRS.flatMap((a) => ['-A', a])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n');
  return Object.fromEntries(
    ATTRS.map((a, i) => {
      const aterm = readFileSync(paths[i], 'utf8');
      return [a, { drvPath: paths[i], aterm, hashPart: hashPartOf(paths[i]), out: parseDerivation(aterm).outputs.out.path }];
    }),
  ) as Record<Attr, Drv>;
}

async function eventually<T>(probe: () => Promise<T>, done: (t: T) => boolean): Promise<T> {
  let last = await probe();
  for (let i = 0; i < 200 && !done(last); i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

describeWith(['nats-server', 'nix-instantiate'], 'end to end with read models and policies', () => {
  let h: Harness;
  let d: Record<Attr, Drv>;
  const invalidations: Msg[] = [];

  beforeAll(async () => {
    d = instantiate();
    h = await startHarness();
    h.client.subscribe('buildgraph.v1.events.ResultInvalidated.>', { callback: (_e, m) => invalidations.push(m) });
    for (const a of ATTRS) expect(await h.request(commandSubject('drv.register'), { aterm: d[a].aterm }, h.keys.evaluator)).toMatchObject({ ok: true });
  });
  afterAll(async () => h?.stop());

  const succeed = (a: Attr, attemptId: string, farm: 'farm1' | 'farm2', extra: object = {}) =>
    h.request(commandSubject('attempt.succeed'), { attemptId, drvPath: d[a].drvPath, farm, machine: 'm1', outputs: { out: d[a].out }, ...extra }, farm === 'farm1' ? h.keys.farm1 : h.keys.farm2);
  const shouldBuild = (a: Attr, force = false) => h.request(querySubject('should-build'), { hashPart: d[a].hashPart, force }, null);

  it('poisoning a result invalidates what was built on it, and a subscriber is told', async () => {
    expect(await succeed('base', 'b-1', 'farm1')).toMatchObject({ ok: true });
    expect(await succeed('app', 'a-1', 'farm2', { inputRealisations: { [`${d.base.drvPath}^out`]: d.base.out } })).toMatchObject({ ok: true });
    expect(await eventually(() => shouldBuild('app'), (r) => r.decision === 'skip-valid')).toMatchObject({ ok: true, decision: 'skip-valid' });

    const poisoned = await h.request(commandSubject('drv.poison'), { drvPath: d.base.drvPath, reason: 'built on a host with bad RAM' }, h.keys.operator);
    expect(poisoned).toMatchObject({ ok: true, events: [{ type: 'ResultPoisoned' }] });

    await eventually(async () => invalidations.length, (n) => n > 0);
    expect(invalidations.map((m) => m.subject)).toEqual([`buildgraph.v1.events.ResultInvalidated.${d.app.hashPart}`]);
    const event = JSON.parse(Buffer.from(invalidations[0].data).toString()) as { data: { because: { drvPath: string; outputPath: string }; outputPaths: string[] } };
    expect(event.data.because).toMatchObject({ drvPath: d.base.drvPath, outputPath: d.base.out });
    expect(event.data.outputPaths).toEqual([d.app.out]);
    expect(await eventually(() => shouldBuild('app'), (r) => r.decision === 'build')).toMatchObject({ ok: true, decision: 'build' });
    const downstream = await h.http('GET', `/v1/drvs/${d.base.hashPart}/downstream`);
    expect(downstream.body).toMatchObject({ ok: true, drvPaths: [d.app.drvPath] });
  });

  it('a permanent failure is skipped with its log tail until forced', async () => {
    const log = 'make: *** [Makefile:12: all] Error 1\n';
    const failed = await h.request(commandSubject('attempt.fail'), { attemptId: 'f-1', drvPath: d.flaky.drvPath, farm: 'farm1', machine: 'm1', status: 'PermanentFailure', exitCode: 1, log }, h.keys.farm1);
    expect(failed).toMatchObject({ ok: true });
    const skipped = await eventually(() => shouldBuild('flaky'), (r) => r.decision === 'skip-cached-failure');
    expect(skipped).toMatchObject({ ok: true, decision: 'skip-cached-failure', status: 'PermanentFailure', logTail: log });
    expect(await shouldBuild('flaky', true)).toMatchObject({ ok: true, decision: 'build' });
    const overHttp = await h.http('GET', `/v1/drvs/${d.flaky.hashPart}/should-build?force=true`);
    expect(overHttp.body).toMatchObject({ ok: true, decision: 'build' });
  });

  it('a failure with a log near the size limit is notified, and so is what follows it', async () => {
    const notified: Msg[] = [];
    const sub = h.client.subscribe(`buildgraph.v1.events.AttemptFailed.${d.flaky.hashPart}`, { callback: (_e, m) => notified.push(m) });
    await h.client.flush();
    // quotes are escaped once in the request body; the signed body would be escaped again in a notification
    const log = `${'"'.repeat(380 * 1024)}\n`;
    const fail = (attemptId: string, text: string) =>
      h.request(commandSubject('attempt.fail'), { attemptId, drvPath: d.flaky.drvPath, farm: 'farm1', machine: 'm1', status: 'PermanentFailure', exitCode: 2, log: text }, h.keys.farm1);
    expect(await fail('f-big', log)).toMatchObject({ ok: true });
    expect(await fail('f-after', 'error: small\n')).toMatchObject({ ok: true });
    await eventually(async () => notified.length, (n) => n >= 2);
    sub.unsubscribe();
    const events = notified.map((m) => JSON.parse(Buffer.from(m.data).toString()) as { data: { attemptId: string }; metadata: { signer?: Record<string, unknown> } });
    expect(events.map((e) => e.data.attemptId)).toEqual(['f-big', 'f-after']);
    // subscribers get who signed, not the signed bytes (the audit export /v1/events has those)
    for (const e of events) {
      expect(e.metadata.signer).toMatchObject({ keyName: 'farm1-1' });
      expect(e.metadata.signer).not.toHaveProperty('body');
    }
    // the drv's history still fits a NATS reply; the audit export keeps the exact signed bytes
    const history = await h.request(querySubject('events'), { hashPart: d.flaky.hashPart }, null);
    expect(history).toMatchObject({ ok: true });
    expect((history.events as { type: string }[]).map((e) => e.type)).toContain('AttemptFailed');
    const exported = await h.http('GET', '/v1/events?from=0');
    const big = exported.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { data: { attemptId?: string }; metadata: { signer?: { body?: string } } })
      .find((e) => e.data.attemptId === 'f-big');
    expect(JSON.parse(big?.metadata.signer?.body ?? '{}')).toMatchObject({ attemptId: 'f-big', log });
  });

  it('a group fails as a unit: one member fails, the member that succeeded is poisoned', async () => {
    const deadline = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const members = [{ drvPath: d.left.drvPath }, { drvPath: d.right.drvPath }];
    expect(await h.request(commandSubject('group.open'), { groupId: 'g-1', members, deadline }, h.keys.evaluator)).toMatchObject({ ok: true });
    for (const [a, farm, key] of [['left', 'farm1', h.keys.farm1], ['right', 'farm2', h.keys.farm2]] as const) {
      expect(await h.request(commandSubject('attempt.start'), { attemptId: `${a}-1`, drvPath: d[a].drvPath, farm, machine: 'm1', groupId: 'g-1' }, key)).toMatchObject({ ok: true });
    }
    expect(await succeed('left', 'left-1', 'farm1')).toMatchObject({ ok: true });
    const failed = await h.request(commandSubject('attempt.fail'), { attemptId: 'right-1', drvPath: d.right.drvPath, farm: 'farm2', machine: 'm1', status: 'TimedOut', log: 'timed out\n' }, h.keys.farm2);
    expect(failed).toMatchObject({ ok: true });
    const group = await eventually(() => h.request(querySubject('group'), { groupId: 'g-1' }, null), (r) => (r.group as { status?: string } | undefined)?.status === 'failed');
    expect(group).toMatchObject({ ok: true, group: { status: 'failed' } });
    const left = await eventually(() => h.request(querySubject('drv'), { hashPart: d.left.hashPart }, null), (r) => r.status === 'poisoned');
    expect(left).toMatchObject({ ok: true, status: 'poisoned', serial: 1 });
  });

  it('a CA derivation is resolved to the derivation Nix resolves it to', async () => {
    const vectors = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'nix', 'vectors.json'), 'utf8')) as {
      derivations: Record<string, { aterm: string }>;
      resolutions: Record<string, { inputRealisations: Record<string, string>; resolvedDrvPath: string }>;
    };
    const [drvPath, resolution] = Object.entries(vectors.resolutions).find(([p]) => p.endsWith('-ca-mid.drv')) as [string, { inputRealisations: Record<string, string>; resolvedDrvPath: string }];
    const inputs = Object.keys(parseDerivation(vectors.derivations[drvPath].aterm).inputDrvs);
    for (const p of [...inputs, drvPath]) expect(await h.request(commandSubject('drv.register'), { aterm: vectors.derivations[p].aterm }, h.keys.evaluator)).toMatchObject({ ok: true });
    const body = { attemptId: 'ca-1', drvPath, farm: 'farm1', inputRealisations: resolution.inputRealisations };
    // resolving an attempt that was never started is refused, and leaves no resolved drv behind
    const before = await h.head();
    expect(await h.request(commandSubject('attempt.resolve'), body, h.keys.farm1)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await h.head()).toBe(before);
    expect(await h.request(commandSubject('attempt.start'), { attemptId: 'ca-1', drvPath, farm: 'farm1', machine: 'm1' }, h.keys.farm1)).toMatchObject({ ok: true });
    const resolved = await h.request(commandSubject('attempt.resolve'), body, h.keys.farm1);
    expect(resolved).toMatchObject({ ok: true, resolvedDrvPath: resolution.resolvedDrvPath });
    // the resolved derivation is registered too: nothing else keeps its text
    expect(await h.request(querySubject('drv'), { hashPart: hashPartOf(resolution.resolvedDrvPath) }, null)).toMatchObject({ ok: true, registered: true, drvPath: resolution.resolvedDrvPath });
    expect(await h.request(commandSubject('attempt.resolve'), body, h.keys.farm1)).toMatchObject({ ok: true, repeat: true, positions: resolved.positions });
  });
});
