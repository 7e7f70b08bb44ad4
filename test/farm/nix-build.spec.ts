/**
 * `buildgraph nix-build` against the real Nix, a real nats-server and the real service: what a farm
 * operator sees when builds succeed, fail for good, or fail because the machine was in trouble.
 */
import { describeWith } from '../support/env';
import { FarmWorld, graphNix, NIX_OPTIONS, nonce, startFarmWorld } from './support';
import { instantiate, run } from '../../apps/cli/src/farm/nix-store';
import { hashPartOf } from '../../apps/cli/src/farm/should-build';

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

  it('with an evaluator key, the whole closure is registered, also what is already built here', async () => {
    const file2 = world.writeNix('registered.nix', graphNix(nonce()));
    const [lib] = await instantiate(file2, ['-A', 'lib']);
    const [app] = await instantiate(file2, ['-A', 'app']);
    // lib built by plain Nix, unknown to the service
    await run('nix-store', ['--realise', lib, ...NIX_OPTIONS.flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)])]);
    const client = world.client({ registerKey: world.evaluatorKey, stateDir: `${world.dir}/register-state` });
    expect((await world.build(client, { targets: [app] })).exitCode).toBe(0);
    expect((await world.events(lib)).map((e) => e.type)).toEqual(['DerivationRegistered']);
    expect((await world.events(app)).map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptSucceeded']);
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

  it('a builder that runs out of disk is classified transient: retried after the service\'s backoff, not cached for good', async () => {
    const client = world.client();
    const full = await drvOf('full');
    const first = await world.build(client, { targets: [full] });
    expect(first.exitCode).not.toBe(0);
    const failed = (await world.events(full)).find((e) => e.type === 'AttemptFailed')!;
    expect(failed.data).toMatchObject({ cause: 'disk-full', transient: true });
    // right after, the service says when to retry; the run stops and says so
    const second = await world.build(client, { targets: [full] });
    expect(second.exitCode).toBe(100);
    expect(second.info.join('\n')).toMatch(/failed transiently \(transient disk-full failure.*\); retry after \d{4}-/);
    // forced, it is built again
    const third = await world.build(client, { targets: [full], rebuildFailed: true });
    expect(third.skipped).toEqual([]);
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

describeWith(['nix-instantiate', 'nix-store', 'nats-server'], 'buildgraph nix-build and poisoned results', () => {
  let world: FarmWorld;
  beforeAll(async () => {
    world = await startFarmWorld();
  });
  afterAll(async () => world?.close());

  it('a poisoned result that is still in the store is rebuilt (nix-store --check), not silently reused', async () => {
    const file = world.writeNix('poison.nix', graphNix(nonce()));
    const farm = world.client();
    expect((await world.build(farm, { targets: [file], instantiateArgs: ['-A', 'app'] })).exitCode).toBe(0);
    const [lib] = await instantiate(file, ['-A', 'lib']);
    const [app] = await instantiate(file, ['-A', 'app']);
    const operator = world.client({ key: world.operatorKey, stateDir: `${world.dir}/operator` });
    const poisoned = await operator.send('drv.poison', { drvPath: lib, reason: 'flaky disk on builder-1' });
    expect(poisoned).toMatchObject({ kind: 'reply', reply: { ok: true } });
    // the invalidation policy and the read models run in the background: wait until they say app is invalidated too
    const invalidated = async (): Promise<boolean> => {
      const d = await farm.query('should-build', { hashPart: hashPartOf(app) });
      return d.kind === 'reply' && d.reply.ok && /invalidated/.test(String(d.reply.reason));
    };
    for (let i = 0; i < 100 && !(await invalidated()); i++) await new Promise((r) => setTimeout(r, 50));

    const again = await world.build(farm, { targets: [file], instantiateArgs: ['-A', 'app'] });
    expect(again.exitCode).toBe(0);
    expect(again.info.join('\n')).toContain('rebuilding 2 derivation(s) whose result was poisoned or invalidated');
    for (const drv of [lib, app]) {
      expect((await world.events(drv)).filter((e) => e.type === 'AttemptSucceeded')).toHaveLength(2);
    }
  });
});

describeWith(['nix-instantiate', 'nix-store', 'nats-server'], 'buildgraph nix-build over HTTP', () => {
  let world: FarmWorld;
  beforeAll(async () => {
    world = await startFarmWorld();
  });
  afterAll(async () => world?.close());

  it('the same reports and the same cached failure work with an http:// service address', async () => {
    const file = world.writeNix('http.nix', graphNix(nonce()));
    const client = world.client({ serviceUrl: world.service()!.url, stateDir: `${world.dir}/http-state` });
    const [broken] = await instantiate(file, ['-A', 'broken']);
    const first = await world.build(client, { targets: [broken] });
    expect(first.queued).toBe(0);
    expect((await world.events(broken)).map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptFailed']);
    const second = await world.build(client, { targets: [broken] });
    expect(second).toMatchObject({ exitCode: 100, skipped: [broken] });
  });
});
