/**
 * The operator verbs against a running service (real nats-server, derivations from nix-instantiate):
 * `poison` a succeeded drv and `status` shows it poisoned; `should-build` on a cached failure says skip
 * (exit 3) until `--force` or `clear-failure`; bad input exits 2 with one line; a refusal exits 1 with
 * its code.
 */
import 'reflect-metadata';
import { commandSubject, formatSecretKey, querySubject } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { freePort } from '../support/nats';
import { Harness, startHarness } from '../service/harness';

const CLI = join(__dirname, '..', '..', 'apps', 'cli', 'src', 'main.ts');

/** Runs the CLI in a child process: the service under test runs in this one. */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const EXPR = `
let mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
in {
  good = mk { name = "bg-verbs-good"; args = [ "-c" "echo good > $out" ]; };
  broken = mk { name = "bg-verbs-broken"; args = [ "-c" "exit 1" ]; };
}`;

describeWith(['nats-server', 'nix-instantiate'], 'buildgraph poison, clear-failure, status and should-build', () => {
  let h: Harness;
  let good: { drvPath: string; aterm: string };
  let broken: { drvPath: string; aterm: string };
  let operatorKey: string;
  let evaluatorKey: string;
  const hashPartOf = (p: string): string => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);

  /** Waits until the read models (which should-build answers from) show `decision`. */
  async function readModelsSay(drvPath: string, decision: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const r = await h.request(querySubject('should-build'), { hashPart: hashPartOf(drvPath) }, null);
      if (r.decision === decision) return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`read models never said ${decision} for ${drvPath}`);
  }

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bg-verbs-'));
    writeFileSync(join(dir, 'drvs.nix'), EXPR);
    const [g, b] = execFileSync('nix-instantiate', [join(dir, 'drvs.nix'), '-A', 'good', '-A', 'broken'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split('\n');
    good = { drvPath: g, aterm: readFileSync(g, 'utf8') };
    broken = { drvPath: b, aterm: readFileSync(b, 'utf8') };
    h = await startHarness();
    operatorKey = join(dir, 'operator.secret');
    evaluatorKey = join(dir, 'evaluator.secret');
    writeFileSync(operatorKey, formatSecretKey(h.keys.operator) + '\n');
    writeFileSync(evaluatorKey, formatSecretKey(h.keys.evaluator) + '\n');
    const out = parseDerivation(good.aterm).outputs.out.path;
    const farm = { farm: 'farm1', machine: 'builder-1' };
    expect(await h.request(commandSubject('attempt.succeed'), { attemptId: 'g-1', drvPath: good.drvPath, ...farm, outputs: { out }, aterm: good.aterm }, h.keys.farm1)).toMatchObject({ ok: true });
    const failed = { attemptId: 'b-1', drvPath: broken.drvPath, ...farm, status: 'PermanentFailure', exitCode: 1, log: 'builder for bg-verbs-broken failed\n', aterm: broken.aterm };
    expect(await h.request(commandSubject('attempt.fail'), failed, h.keys.farm1)).toMatchObject({ ok: true });
  }, 60000);
  afterAll(async () => h?.stop());

  it('an operator poisons a succeeded derivation and its status then reads poisoned', async () => {
    const before = await cli(['status', good.drvPath, '--url', h.service.url]);
    expect(before).toMatchObject({ status: 0 });
    expect(before.stdout).toContain(`${good.drvPath}: valid (serial 0)`);

    const poisoned = await cli(['poison', good.drvPath, '--reason', 'flaky builder-1', '--key', operatorKey, '--url', h.service.url]);
    expect(poisoned).toMatchObject({ status: 0, stderr: '' });
    expect(poisoned.stdout).toMatch(new RegExp(`^poisoned ${good.drvPath.replace(/[.]/g, '\\.')}: ResultPoisoned at \\d+\\n$`));

    // over NATS too, one JSON object per line
    const status = await cli(['status', good.drvPath, '--json', '--nats', h.nats.url]);
    expect(status.status).toBe(0);
    const lines = status.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ ok: true, drvPath: good.drvPath, status: 'poisoned', serial: 1 });
  }, 30000);

  it('should-build on a cached failure says skip (exit 3) with the log tail; --force says build (exit 0)', async () => {
    await readModelsSay(broken.drvPath, 'skip-cached-failure');
    const [skip, forced] = await Promise.all([
      cli(['should-build', broken.drvPath, '--url', h.service.url]),
      cli(['should-build', broken.drvPath, '--force', '--json', '--nats', h.nats.url]),
    ]);
    expect(skip.status).toBe(3);
    expect(skip.stdout).toContain(`skip-cached-failure ${broken.drvPath}`);
    expect(skip.stdout).toContain('PermanentFailure');
    expect(skip.stdout).toContain('builder for bg-verbs-broken failed');
    expect(forced.status).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ ok: true, decision: 'build' });
  }, 30000);

  it('clear-failure forgets the cached failure, so should-build then says build', async () => {
    const cleared = await cli(['clear-failure', broken.drvPath, '--reason', 'disk replaced', '--json', '--key', operatorKey, '--url', h.service.url]);
    expect(cleared.status).toBe(0);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ ok: true, events: [{ type: 'FailureCleared' }] });
    await readModelsSay(broken.drvPath, 'build');
    const answer = await cli(['should-build', broken.drvPath, '--json', '--url', h.service.url]);
    expect(answer.status).toBe(0);
    expect(JSON.parse(answer.stdout)).toMatchObject({ decision: 'build' });
  }, 30000);

  it('a derivation the service never heard of is unknown, and should be built', async () => {
    const never = good.drvPath.replace(hashPartOf(good.drvPath), '0'.repeat(32));
    const [status, answer] = await Promise.all([cli(['status', never, '--json', '--url', h.service.url]), cli(['should-build', never, '--url', h.service.url])]);
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'unknown', registered: false });
    expect(answer.status).toBe(0);
    expect(answer.stdout).toMatch(/^build /);
  }, 30000);

  it('bad input exits 2 with one line naming the problem; nothing is sent', async () => {
    const head = await h.head();
    const [notStorePath, notDrv, noReason] = await Promise.all([
      cli(['status', './result', '--url', h.service.url]),
      cli(['should-build', parseDerivation(good.aterm).outputs.out.path, '--url', h.service.url]),
      cli(['poison', good.drvPath, '--key', operatorKey, '--url', h.service.url]),
    ]);
    for (const r of [notStorePath, notDrv, noReason]) {
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(notStorePath.stderr).toContain('not a .drv store path: "./result"');
    expect(noReason.stderr).toContain('--reason');
    expect(await h.head()).toBe(head);
  }, 30000);

  it('a refusal exits 1 and shows its code: an evaluator key may not poison', async () => {
    const r = await cli(['poison', good.drvPath, '--reason', 'x', '--key', evaluatorKey, '--url', h.service.url]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PERMISSION_DENIED');
  }, 30000);

  it('a service that cannot be reached exits 1 and says where it looked', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['should-build', good.drvPath, '--url', url]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot reach the service at ${url}`);
  });
});
