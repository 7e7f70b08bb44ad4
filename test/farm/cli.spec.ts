/**
 * `buildgraph nix-build` as a farm operator runs it: a separate process, settings from the
 * environment, Ctrl-C in the middle of a build.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { FarmWorld, graphNix, NIX_OPTIONS, nonce, ROOT, startFarmWorld } from './support';
import { instantiate } from '../../apps/cli/src/farm/nix-store';

jest.setTimeout(120_000);

describeWith(['nix-instantiate', 'nix-store', 'nats-server'], 'the buildgraph nix-build command', () => {
  let world: FarmWorld;
  beforeAll(async () => {
    world = await startFarmWorld();
  });
  afterAll(async () => world?.close());

  /** `buildgraph nix-build ARGS` as a child process with the farm's settings in its environment. */
  function buildgraph(...args: string[]): { child: ReturnType<typeof spawn>; exited: Promise<{ code: number | null; stderr: string }> } {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/cli/src/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...world.farmEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr }))) };
  }

  it('a failed build exits like nix-store (100) and so does the next run, stopped at the cached failure without building', async () => {
    const file = world.writeNix('fails.nix', graphNix(nonce()));
    const nixOptions = NIX_OPTIONS.flatMap((o) => ['--nix-option', o]);
    const first = await buildgraph('nix-build', file, '-A', 'broken', ...nixOptions).exited;
    expect(first.code).toBe(100);
    expect(first.stderr).toContain('undefined reference to frobnicate');
    expect(first.stderr).not.toContain('failure is cached');
    const second = await buildgraph('nix-build', file, '-A', 'broken', ...nixOptions).exited;
    expect(second.code).toBe(100);
    expect(second.stderr).toContain('failed before; the failure is cached');
    expect(second.stderr).not.toContain('building \'');
  });

  it('interrupted with Ctrl-C, it stops Nix and reports the attempt it cut short', async () => {
    const file = world.writeNix(
      'slow.nix',
      `derivation { name = "slow"; nonce = "${nonce()}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo started; while true; do :; done" ]; }`,
    );
    const [slow] = await instantiate(file, []);
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'apps/cli/src/main.ts'), 'nix-build', file, ...NIX_OPTIONS.flatMap((o) => ['--nix-option', o])],
      { cwd: ROOT, env: { ...process.env, ...world.farmEnv() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes(`building '${slow}'`)) resolve();
      });
    });
    // the start is reported while Nix builds
    for (let i = 0; i < 100 && !(await world.events(slow)).some((e) => e.type === 'AttemptStarted'); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited).not.toBe(0); // nix-store's own code for an interrupted run
    expect(stderr).toContain('SIGINT: waiting for nix-store to stop');
    const events = await world.events(slow);
    expect(events.map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptFailed']);
    expect(events[2].data).toMatchObject({ status: 'MiscFailure', transient: true });
  });
});
