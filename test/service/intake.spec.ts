/**
 * The service as a farm, an evaluator and an operator see it, over a real nats-server: good commands are
 * acknowledged only once durable and retries are answered with the same positions; bad input of every
 * kind gets its error code, stores nothing, and the service keeps serving. Derivations come from
 * nix-instantiate, nothing is typed by hand.
 */
import 'reflect-metadata';
import { COMMANDS, commandSubject, querySubject, LIMITS } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Msg } from 'nats';
import { describeWith } from '../support/env';
import { Harness, startHarness } from './harness';

const EXPR = `
let mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
in rec {
  leaf = mk { name = "bg-svc-leaf"; args = [ "-c" "echo leaf > $out" ]; };
  app = mk { name = "bg-svc-app"; args = [ "-c" "echo \${leaf} > $out" ]; };
}`;

interface Drv {
  drvPath: string;
  aterm: string;
  hashPart: string;
  outputs: Record<string, string>;
}

function instantiate(): { leaf: Drv; app: Drv } {
  const dir = mkdtempSync(join(tmpdir(), 'bg-svc-nix-'));
  writeFileSync(join(dir, 'drvs.nix'), EXPR);
  const paths = execFileSync('nix-instantiate', [join(dir, 'drvs.nix'), '-A', 'leaf', '-A', 'app'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n');
  const load = (drvPath: string): Drv => {
    const aterm = readFileSync(drvPath, 'utf8');
    const outputs = Object.fromEntries(Object.entries(parseDerivation(aterm).outputs).map(([n, o]) => [n, o.path]));
    return { drvPath, aterm, hashPart: drvPath.slice('/nix/store/'.length, '/nix/store/'.length + 32), outputs };
  };
  return { leaf: load(paths[0]), app: load(paths[1]) };
}

describeWith(['nats-server', 'nix-instantiate'], 'the service over NATS and HTTP', () => {
  let h: Harness;
  let drvs: { leaf: Drv; app: Drv };
  const notifications: Msg[] = [];

  beforeAll(async () => {
    drvs = instantiate();
    // above our own 1 MiB bound, so that bound (not NATS's) is what an oversized command meets
    h = await startHarness({ maxPayload: 4 * 1024 * 1024 });
    h.client.subscribe('buildgraph.v1.events.>', { callback: (_e, m) => notifications.push(m) });
  });
  afterAll(async () => h?.stop());

  const start = (attemptId: string, farm = 'farm1', drv = drvs.leaf) => ({ attemptId, drvPath: drv.drvPath, farm, machine: 'm1' });
  const succeed = (attemptId: string, farm = 'farm1', drv = drvs.leaf) => ({ ...start(attemptId, farm, drv), outputs: drv.outputs });

  describe('a build reported by a farm', () => {
    let acked: Record<string, unknown>;

    it('an evaluator registers a real derivation and the service recomputes its path', async () => {
      const r = await h.request(commandSubject('drv.register'), { aterm: drvs.leaf.aterm }, h.keys.evaluator);
      expect(r).toMatchObject({ ok: true, drvPath: drvs.leaf.drvPath, events: [{ type: 'DerivationRegistered' }] });
      expect((r.positions as string[])[0]).toMatch(/^\d+$/);
    });

    it('the farm starts and finishes an attempt; the reply carries the durable positions', async () => {
      expect(await h.request(commandSubject('attempt.start'), start('a-1'), h.keys.farm1)).toMatchObject({ ok: true, events: [{ type: 'AttemptStarted' }] });
      acked = await h.request(commandSubject('attempt.succeed'), succeed('a-1'), h.keys.farm1);
      expect(acked).toMatchObject({ ok: true, repeat: false, events: [{ type: 'AttemptSucceeded' }] });
      expect(BigInt((acked.positions as string[])[0])).toBe(await h.head());
    });

    it('a retried success gets the same answer and appends nothing', async () => {
      const before = await h.head();
      const again = await h.request(commandSubject('attempt.succeed'), succeed('a-1'), h.keys.farm1);
      expect(again).toMatchObject({ ok: true, repeat: true, positions: acked.positions, events: acked.events });
      expect(await h.head()).toBe(before);
    });

    it('the derivation reads as valid over NATS and HTTP, with its history', async () => {
      const overNats = await h.request(querySubject('drv'), { hashPart: drvs.leaf.hashPart }, null);
      expect(overNats).toMatchObject({ ok: true, status: 'valid', drvPath: drvs.leaf.drvPath, farms: ['farm1'] });
      const overHttp = await h.http('GET', `/v1/drvs/${drvs.leaf.hashPart}`);
      expect(overHttp.body).toEqual(overNats);
      const history = await h.http('GET', `/v1/drvs/${drvs.leaf.hashPart}/events`);
      expect((history.body.events as { type: string }[]).map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded']);
    });

    it('a subscriber is told about each appended event, on the drv\'s subject', async () => {
      const deadline = Date.now() + 5000;
      while (notifications.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const subjects = notifications.map((m) => m.subject);
      expect(subjects).toEqual(
        ['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded'].map((t) => `buildgraph.v1.events.${t}.${drvs.leaf.hashPart}`),
      );
      const last = JSON.parse(Buffer.from(notifications[2].data).toString()) as { id: string; position: string };
      expect(last.position).toBe((acked.positions as string[])[0]);
    });

    it('the audit export streams the whole log as NDJSON from a position', async () => {
      const all = await h.http('GET', '/v1/events?from=0');
      const lines = all.text.trim().split('\n').map((l) => JSON.parse(l) as { position: string });
      expect(BigInt(lines[lines.length - 1].position)).toBe(await h.head());
      const tail = await h.http('GET', `/v1/events?from=${lines[0].position}`);
      expect(tail.text.trim().split('\n')).toHaveLength(lines.length - 1);
    });
  });

  describe('attempts for derivations the service has not seen', () => {
    it('are NOT_FOUND without the aterm, and register it on the way with it', async () => {
      const before = await h.head();
      expect(await h.request(commandSubject('attempt.start'), start('b-1', 'farm1', drvs.app), h.keys.farm1)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      expect(await h.head()).toBe(before);
      const r = await h.request(commandSubject('attempt.succeed'), { ...succeed('b-1', 'farm1', drvs.app), aterm: drvs.app.aterm }, h.keys.farm1);
      // a success for an attempt never started records its start too, in the same append
      expect(r).toMatchObject({ ok: true, events: [{ type: 'DerivationRegistered' }, { type: 'AttemptStarted' }, { type: 'AttemptSucceeded' }] });
    });
  });

  describe('a failed build keeps its log', () => {
    it('stores the log by sha256 and serves it back; the event keeps the tail', async () => {
      const log = 'building...\n'.repeat(1000) + 'error: builder for bg-svc-leaf failed with exit code 1\n';
      const r = await h.request(commandSubject('attempt.fail'), { ...start('f-1', 'farm2'), status: 'PermanentFailure', exitCode: 1, log }, h.keys.farm2);
      expect(r).toMatchObject({ ok: true });
      const sha256 = createHash('sha256').update(log).digest('hex');
      const served = await h.http('GET', `/v1/logs/${sha256}`);
      expect(served.status).toBe(200);
      expect(served.text).toBe(log);
      const history = await h.http('GET', `/v1/drvs/${drvs.leaf.hashPart}/events`);
      const failed = (history.body.events as { type: string; data: { log: { sha256: string; bytes: number; tail: string } } }[]).find((e) => e.type === 'AttemptFailed');
      expect(failed?.data.log).toEqual({ sha256, bytes: Buffer.byteLength(log), tail: log.slice(-LIMITS.logTailBytes) });
      expect((await h.http('GET', `/v1/logs/${'0'.repeat(64)}`)).status).toBe(404);
    });
  });

  describe('bad input gets its error code, stores nothing, and the service keeps serving', () => {
    const bad: [string, () => Promise<Record<string, unknown>>, string][] = [
      ['malformed JSON', () => h.request(commandSubject('attempt.start'), '{"attemptId": ', h.keys.farm1), 'INVALID_ARGUMENT'],
      ['wrong types', () => h.request(commandSubject('attempt.start'), { ...start('x'), machine: 7 }, h.keys.farm1), 'INVALID_ARGUMENT'],
      ['unknown fields', () => h.request(commandSubject('attempt.start'), { ...start('x'), colour: 'red' }, h.keys.farm1), 'INVALID_ARGUMENT'],
      ['an invalid store path', () => h.request(commandSubject('attempt.start'), { ...start('x'), drvPath: '/nix/store/eeee-not-a-path.drv' }, h.keys.farm1), 'INVALID_ARGUMENT'],
      ['a log over our bound', () => h.request(commandSubject('attempt.fail'), { ...start('x'), status: 'MiscFailure', log: 'x'.repeat(LIMITS.logBytes + 1) }, h.keys.farm1), 'INVALID_ARGUMENT'],
      ['a body over our bound', () => h.request(commandSubject('attempt.start'), { ...start('x'), pad: 'x'.repeat(LIMITS.requestBytes) }, h.keys.farm1), 'PAYLOAD_TOO_LARGE'],
      ['an unknown subject', () => h.request('buildgraph.v1.attempt.explode', start('x'), h.keys.farm1), 'UNKNOWN_SUBJECT'],
      ['a missing signature', () => h.request(commandSubject('attempt.start'), start('x'), null), 'UNAUTHENTICATED'],
      ['a forged signature', () => h.request(commandSubject('attempt.start'), start('x'), null, { signature: `farm1-1:${Buffer.alloc(64, 7).toString('base64')}` }), 'UNAUTHENTICATED'],
      ['a farm reporting for another farm', () => h.request(commandSubject('attempt.start'), start('x', 'farm2'), h.keys.farm1), 'PERMISSION_DENIED'],
      ['a farm key trying to poison', () => h.request(commandSubject('drv.poison'), { drvPath: drvs.leaf.drvPath, reason: 'flaky' }, h.keys.farm1), 'PERMISSION_DENIED'],
      ['a farm ending another farm\'s attempt', () => h.request(commandSubject('attempt.succeed'), succeed('a-1', 'farm2'), h.keys.farm2), 'PERMISSION_DENIED'],
    ];

    it.each(bad)('%s', async (_what, send, code) => {
      const before = await h.head();
      const r = await send();
      expect(r).toMatchObject({ ok: false, error: { code } });
      expect(await h.head()).toBe(before);
      const good = await h.request(commandSubject('attempt.start'), start(`ok-${code}-${before}`), h.keys.farm1);
      expect(good).toMatchObject({ ok: true });
    });

    it('a message over NATS\'s own max_payload never leaves the client; the service keeps serving', async () => {
      const big = 'x'.repeat(5 * 1024 * 1024);
      await expect(h.request(commandSubject('attempt.start'), big, h.keys.farm1)).rejects.toThrow(/MAX_PAYLOAD|payload/i);
      expect(await h.request(commandSubject('attempt.start'), start('after-big'), h.keys.farm1)).toMatchObject({ ok: true });
    });

    it('HTTP mirrors the same codes with the matching status', async () => {
      const before = await h.head();
      const unsigned = await h.http('POST', '/v1/attempt.start', start('y'), null);
      expect(unsigned.status).toBe(401);
      expect(unsigned.body).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      const denied = await h.http('POST', '/v1/drv.poison', { drvPath: drvs.leaf.drvPath, reason: 'flaky' }, h.keys.farm1);
      expect(denied.status).toBe(403);
      const tooBig = await h.http('POST', '/v1/attempt.start', 'x'.repeat(LIMITS.requestBytes + 10), h.keys.farm1);
      expect(tooBig.status).toBe(413);
      expect((await h.http('POST', '/v1/nope', {}, h.keys.farm1)).status).toBe(404);
      expect(await h.head()).toBe(before);
      const ok = await h.http('POST', '/v1/attempt.start', start('y'), h.keys.farm1);
      expect(ok).toMatchObject({ status: 200, body: { ok: true } });
    });
  });

  describe('the OpenAPI document at /docs', () => {
    it('describes every command route with its body, generated from the wire DTOs', async () => {
      const doc = await h.http('GET', '/docs-json');
      const paths = doc.body.paths as Record<string, { post?: { requestBody: { content: Record<string, { schema: { required: string[] } }> } } }>;
      for (const name of COMMANDS) expect(paths[`/v1/${name}`]?.post).toBeDefined();
      expect(paths['/v1/attempt.succeed'].post?.requestBody.content['application/json'].schema.required.sort()).toEqual(['attemptId', 'drvPath', 'farm', 'machine', 'outputs']);
    });
  });

  describe('operators', () => {
    it('poison a result over HTTP; the serial goes up and the drv reads as poisoned', async () => {
      const r = await h.http('POST', '/v1/drv.poison', { drvPath: drvs.leaf.drvPath, reason: 'built on a machine with bad RAM' }, h.keys.operator);
      expect(r).toMatchObject({ status: 200, body: { ok: true, events: [{ type: 'ResultPoisoned' }] } });
      const state = await h.http('GET', `/v1/drvs/${drvs.leaf.hashPart}`);
      expect(state.body).toMatchObject({ serial: 1 });
    });
  });
});
