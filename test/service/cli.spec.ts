/**
 * The CLI against a running service: `keys generate` writes a key Nix accepts, `report` signs and sends
 * a command, `subscribe --durable` prints the notifications as JSON lines and, run again, catches up on
 * what happened while it was away.
 */
import 'reflect-metadata';
import { EVENTS_STREAM, formatSecretKey } from '@buildgraph/contracts';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { Harness, startHarness } from './harness';

const CLI = join(__dirname, '..', '..', 'apps', 'cli', 'src', 'main.ts');
/** Runs the CLI without blocking this process: the service under test runs in it. */
function cli(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Runs `buildgraph subscribe ...` until it has printed `count` lines. */
function subscribeLines(args: string[], count: number): { lines: Promise<string[]>; child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', CLI, 'subscribe', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  // the CLI says on stderr when its subscription is in place: events published before it are not seen
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', () => /^(subscribed to|consuming) /m.test(err) && resolve());
    child.once('exit', (code) => reject(new Error(`subscribe exited (${code}) before subscribing: ${err}`)));
  });
  ready.catch(() => undefined);
  const lines = new Promise<string[]>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const got = out.split('\n').filter((l) => l !== '');
      if (got.length >= count) {
        child.kill();
        resolve(got.slice(0, count));
      }
    });
    child.once('exit', (code) => reject(new Error(`subscribe exited (${code}) after ${out.split('\n').length - 1} lines: ${err}`)));
  });
  return { lines, child, ready };
}

describeWith(['nats-server', 'nix-instantiate', 'nix'], 'the buildgraph CLI', () => {
  let h: Harness;
  let dir: string;
  let drv: { drvPath: string; aterm: string };

  beforeAll(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'bg-cli-'));
    writeFileSync(join(dir, 'd.nix'), 'derivation { name = "bg-cli-leaf"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }');
    const drvPath = execFileSync('nix-instantiate', [join(dir, 'd.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    drv = { drvPath, aterm: readFileSync(drvPath, 'utf8') };
  }, 60000);
  afterAll(async () => h?.stop());

  it('keys generate writes a secret key whose public half is what Nix derives', async () => {
    const file = join(dir, 'k.secret');
    const printed = (await cli(['keys', 'generate', 'cli-test-1', '--secret-file', file])).stdout.trim();
    const nixPublic = execFileSync('nix', ['--extra-experimental-features', 'nix-command', 'key', 'convert-secret-to-public'], { input: readFileSync(file, 'utf8'), encoding: 'utf8' }).trim();
    expect(printed).toBe(nixPublic);
  });

  it('report signs a command with the given key and prints the reply; subscribe prints it, and a durable subscriber catches up', async () => {
    const keyFile = join(dir, 'evaluator.secret');
    writeFileSync(keyFile, formatSecretKey(h.keys.evaluator) + '\n');
    const live = subscribeLines(['--nats', h.nats.url, '--type', 'DerivationRegistered'], 1);
    // the durable consumer is created now and stopped; the event arrives while it is away
    const durableFirst = subscribeLines(['--nats', h.nats.url, '--durable', 'cli-auditor'], 1);
    const jsm = await h.client.jetstreamManager();
    for (let i = 0; i < 300; i++) {
      if (await jsm.consumers.info(EVENTS_STREAM, 'cli-auditor').then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    durableFirst.child.kill();
    await durableFirst.lines.catch(() => undefined);

    await live.ready;
    const sent = await cli(['report', 'drv.register', '-', '--key', keyFile, '--url', h.service.url], JSON.stringify({ aterm: drv.aterm }));
    expect(sent.status).toBe(0);
    const reply = JSON.parse(sent.stdout) as { ok: boolean; drvPath: string };
    expect(reply).toMatchObject({ ok: true, drvPath: drv.drvPath });

    const [line] = await live.lines;
    expect(JSON.parse(line)).toMatchObject({ type: 'DerivationRegistered', data: { drvPath: drv.drvPath } });
    const [caughtUp] = await subscribeLines(['--nats', h.nats.url, '--durable', 'cli-auditor'], 1).lines;
    expect(JSON.parse(caughtUp)).toMatchObject({ type: 'DerivationRegistered', data: { drvPath: drv.drvPath } });
  }, 60000);

  it('report exits non-zero and prints the error when the service refuses', async () => {
    const r = await cli(['report', 'drv.poison', JSON.stringify({ drvPath: drv.drvPath, reason: 'x' }), '--key', join(dir, 'evaluator.secret'), '--url', h.service.url]);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
  });
});
