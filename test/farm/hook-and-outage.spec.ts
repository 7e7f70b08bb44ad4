/**
 * The farm without the wrapper (plain nix-build with buildgraph as post-build-hook) and the farm while
 * the service is down: reports wait in the outbox and arrive later, in order, exactly once.
 */
import { spawnSync } from 'node:child_process';
import { describeWith } from '../support/env';
import { FarmWorld, graphNix, NIX_OPTIONS, nonce, startFarmWorld } from './support';
import { runHook } from '../../apps/cli/src/farm/hook';
import { instantiate, run } from '../../apps/cli/src/farm/nix-store';

jest.setTimeout(120_000);

describeWith(['nix-build', 'nix-instantiate', 'nats-server'], 'a farm reporting through the post-build-hook and the outbox', () => {
  let world: FarmWorld;

  beforeAll(async () => {
    world = await startFarmWorld();
  });
  afterAll(async () => world?.close());

  it('a build run by plain nix-build is reported by the post-build-hook, with outputs and inputs', async () => {
    const file = world.writeNix('hooked.nix', graphNix(nonce()));
    const options = [...NIX_OPTIONS, `post-build-hook=${world.hookScript()}`].flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)]);
    // asynchronously: the service answering the hook runs in this process
    const r = await run('nix-build', [file, '-A', 'app', '--no-out-link', ...options]);
    expect(r.stderr).not.toContain('buildgraph:');
    expect(r.code).toBe(0);
    const [app] = await instantiate(file, ['-A', 'app']);
    const [lib] = await instantiate(file, ['-A', 'lib']);
    const events = await world.events(app);
    expect(events.map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded']);
    expect(events[2].data.outputs).toEqual({ out: r.stdout.trim() });
    const libOut = ((await world.events(lib)).find((e) => e.type === 'AttemptSucceeded')!.data.outputs as Record<string, string>).out;
    expect(events[2].data.inputRealisations).toEqual({ [`${lib}^out`]: libOut });
    expect(events[1].data).toMatchObject({ farm: 'farm1', machine: 'builder-1' });
  });

  it('the hook run twice for the same build reports one attempt', async () => {
    const file = world.writeNix('twice.nix', graphNix(nonce()));
    const [lib] = await instantiate(file, ['-A', 'lib']);
    const out = spawnSync('nix-store', ['--realise', lib, ...NIX_OPTIONS.flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)])], { encoding: 'utf8' }).stdout.trim();
    const client = world.client();
    const first = await runHook(client, { drvPath: lib, outPaths: [out] });
    const second = await runHook(client, { drvPath: lib, outPaths: [out] });
    expect(second.attemptId).toBe(first.attemptId);
    // a second client (another hook process) with no memory of the first: the service answers it as a repeat
    const other = world.client({ stateDir: `${world.dir}/other-state` });
    const third = await runHook(other, { drvPath: lib, outPaths: [out] });
    expect(third.flush.rejected).toEqual([]);
    const events = await world.events(lib);
    expect(events.filter((e) => e.type === 'AttemptStarted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'AttemptSucceeded')).toHaveLength(1);
  });

  it('with the service down a build proceeds, and its reports arrive after it comes back, in order, exactly once', async () => {
    const file = world.writeNix('outage.nix', graphNix(nonce()));
    const stateDir = `${world.dir}/outage-state`;
    await world.stopService();
    let built;
    try {
      built = await world.build(world.client({ stateDir, timeoutMs: 500 }), { targets: [file], instantiateArgs: ['-A', 'app'] });
    } finally {
      await world.startService();
    }
    expect(built.exitCode).toBe(0);
    expect(built.queued).toBe(4);
    expect(built.info.join('\n')).toContain('unreachable');

    // the next run of any farm command (here: a client flush) delivers them
    const client = world.client({ stateDir });
    const flushed = await client.flush();
    expect(flushed).toMatchObject({ delivered: 4, remaining: 0, rejected: [] });
    const again = await client.flush();
    expect(again.delivered).toBe(0);
    const [app] = await instantiate(file, ['-A', 'app']);
    const [lib] = await instantiate(file, ['-A', 'lib']);
    for (const drv of [lib, app]) {
      expect((await world.events(drv)).map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded']);
    }
  });

  it('with the service down the hook still lets Nix finish, and its reports go out with the next hook run', async () => {
    const file = world.writeNix('hook-outage.nix', graphNix(nonce()));
    const options = [...NIX_OPTIONS, `post-build-hook=${world.hookScript()}`].flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)]);
    await world.stopService();
    let down;
    try {
      down = await run('nix-build', [file, '-A', 'lib', '--no-out-link', ...options]);
    } finally {
      await world.startService();
    }
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(/report\(s\) queued in .*outbox\.sqlite, sent on the next run/);
    const up = await run('nix-build', [file, '-A', 'app', '--no-out-link', ...options]);
    expect(up.code).toBe(0);
    const [lib] = await instantiate(file, ['-A', 'lib']);
    const [app] = await instantiate(file, ['-A', 'app']);
    for (const drv of [lib, app]) {
      expect((await world.events(drv)).map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded']);
    }
  });
});
