/**
 * `buildgraph nix-build` against the real Nix, a real nats-server and the real service: what a farm
 * operator sees when builds succeed, fail for good, or fail because the machine was in trouble.
 */
import { describeWith } from '../support/env';
import { FarmWorld, graphNix, nonce, startFarmWorld } from './support';
import { instantiate } from '../../apps/cli/src/farm/nix-store';

jest.setTimeout(120_000);

describeWith(['nix-instantiate', 'nix-store', 'nats-server'], 'buildgraph nix-build on a farm', () => {
  let world: FarmWorld;
  let file: string;

  beforeAll(async () => {
    world = await startFarmWorld();
    file = world.writeNix('graph.nix', graphNix(nonce()));
  });
  afterAll(async () => world?.close());

  const drvOf = async (attr: string): Promise<string> => (await instantiate(file, ['-A', attr]))[0];

  it('a successful build is reported as an attempt with its outputs and the inputs it consumed', async () => {
    const client = world.client();
    const r = await world.build(client, { targets: [file], instantiateArgs: ['-A', 'app'] });
    expect(r.exitCode).toBe(0);
    expect(r.queued).toBe(0);
    const app = await drvOf('app');
    const lib = await drvOf('lib');
    const events = await world.events(app);
    expect(events.map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded']);
    const succeeded = events[2].data;
    // the output path Nix printed is the one reported
    expect(Object.values(succeeded.outputs as object)).toEqual([r.stdout.trim()]);
    const libEvents = await world.events(lib);
    const libOut = (libEvents.find((e) => e.type === 'AttemptSucceeded')!.data.outputs as Record<string, string>).out;
    expect(succeeded.inputRealisations).toEqual({ [`${lib}^out`]: libOut });
    expect(events[1].data).toMatchObject({ farm: 'farm1', machine: 'builder-1', attemptId: succeeded.attemptId });
  });

  it('a permanent failure is reported with its log, skipped on the next run, and rebuilt with --rebuild-failed', async () => {
    const client = world.client();
    const broken = await drvOf('broken');
    const first = await world.build(client, { targets: [broken] });
    expect(first.exitCode).not.toBe(0);
    const failed = (await world.events(broken)).filter((e) => e.type === 'AttemptFailed');
    expect(failed).toHaveLength(1);
    expect(failed[0].data).toMatchObject({ status: 'PermanentFailure', exitCode: 1, cause: 'builder', transient: false });
    expect((failed[0].data.log as { tail: string }).tail).toContain('undefined reference to frobnicate');

    // second run: Nix is not started, the cached failure is shown with its log
    const second = await world.build(client, { targets: [broken] });
    expect(second.exitCode).toBe(100);
    expect(second.skipped).toEqual([broken]);
    const shown = second.info.join('\n');
    expect(shown).toContain('PermanentFailure');
    expect(shown).toContain('undefined reference to frobnicate');
    expect(shown).toContain('farm farm1, machine builder-1');
    expect((await world.events(broken)).filter((e) => e.type === 'AttemptStarted')).toHaveLength(1);

    // forced: built again, a second attempt recorded
    const third = await world.build(client, { targets: [broken], rebuildFailed: true });
    expect(third.exitCode).not.toBe(0);
    expect((await world.events(broken)).filter((e) => e.type === 'AttemptFailed')).toHaveLength(2);
  });

  it('a cached failure deep in the closure stops the build of everything above it', async () => {
    const client = world.client();
    const top = await drvOf('top');
    await world.build(client, { targets: [top] });
    const again = await world.build(client, { targets: [top] });
    expect(again.exitCode).toBe(100);
    expect(again.skipped).toHaveLength(1);
    expect(again.skipped[0]).toMatch(/-broken-deep\.drv$/);
    expect(again.attempts).toBeUndefined();
  });

  it('a builder that runs out of disk is classified transient and is not cached', async () => {
    const client = world.client();
    const full = await drvOf('full');
    const first = await world.build(client, { targets: [full] });
    expect(first.exitCode).not.toBe(0);
    const failed = (await world.events(full)).find((e) => e.type === 'AttemptFailed')!;
    expect(failed.data).toMatchObject({ cause: 'disk-full', transient: true });
    // not negative-cached: the next run builds again
    const second = await world.build(client, { targets: [full] });
    expect(second.skipped).toEqual([]);
    expect((await world.events(full)).filter((e) => e.type === 'AttemptFailed')).toHaveLength(2);
  });

  it('a builder killed by SIGKILL is classified transient (the OOM killer\'s signature)', async () => {
    const client = world.client();
    const killed = await drvOf('killed');
    await world.build(client, { targets: [killed] });
    const failed = (await world.events(killed)).find((e) => e.type === 'AttemptFailed')!;
    expect(failed.data).toMatchObject({ transient: true });
    expect((failed.data.log as { tail: string }).tail).toContain('signal 9');
  });
});
