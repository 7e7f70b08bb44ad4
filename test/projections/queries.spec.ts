/**
 * Build traces, the graph and the FOD ledger, asked through the query functions over a real read store.
 */
import {
  attemptTrace,
  attemptsOf,
  baseTrace,
  closure,
  consumersOf,
  downstream,
  fodsDue,
  incoherence,
  shouldBuild,
} from '@buildgraph/projections';
import { Farm } from './support';
import { openLive, type Live } from './live';

const DAY = 24 * 3600 * 1000;

describe('queries over the read store', () => {
  let live: Live;
  beforeEach(async () => {
    live = await openLive();
  });
  afterEach(async () => {
    await live.close();
  });

  async function caughtUp(farm: Farm) {
    await live.append(farm.log);
    const { runner, rs } = live.runner('read');
    await runner.catchUp();
    return rs;
  }

  it('an attempt trace holds drv, resolved drv, inputs consumed, outputs, farm and machine', async () => {
    const farm = new Farm();
    const lib = farm.drv('lib');
    const ca = farm.drv('ca-tool', [lib], 'ca');
    farm.built(lib, 'l1', { farm: 'farm-a', machine: 'm1' });
    const consumed = { [`${lib.drvPath}^out`]: lib.outputs.out };
    const built = farm.builtCa(ca, 'c1', consumed, 'bytes', { farm: 'farm-b', machine: 'm9' });
    const rs = await caughtUp(farm);
    expect(attemptTrace(rs, ca.drvPath, 'c1')).toMatchObject({
      drvPath: ca.drvPath,
      resolvedDrvPath: built.resolvedDrvPath,
      inputRealisations: consumed,
      outputs: { out: built.outPath },
      farm: 'farm-b',
      machine: 'm9',
      outcome: 'succeeded',
    });
    expect(attemptsOf(rs, lib.drvPath).map((a) => a.attemptId)).toEqual(['l1']);
    // the base trace is keyed by the resolved drv; an input-addressed drv is its own
    expect(baseTrace(rs, built.resolvedDrvPath, 'out')?.paths).toEqual({
      [built.outPath]: [{ drvPath: ca.drvPath, attemptId: 'c1' }],
    });
    expect(baseTrace(rs, lib.drvPath, 'out')?.paths).toEqual({
      [lib.outputs.out]: [{ drvPath: lib.drvPath, attemptId: 'l1' }],
    });
    expect(consumersOf(rs, lib.outputs.out)).toEqual([{ drvPath: ca.drvPath, attemptId: 'c1' }]);
  });

  it('one resolved output built to two store paths on two farms is listed as incoherent, with farms and machines', async () => {
    const farm = new Farm();
    const lib = farm.drv('lib');
    const ca = farm.drv('ca-tool', [lib], 'ca');
    farm.built(lib, 'l1');
    const consumed = { [`${lib.drvPath}^out`]: lib.outputs.out };
    const first = farm.builtCa(ca, 'c1', consumed, 'bytes-on-a', { farm: 'farm-a', machine: 'm1' });
    const second = farm.builtCa(ca, 'c2', consumed, 'bytes-on-b', { farm: 'farm-b', machine: 'm2' });
    expect(second.resolvedDrvPath).toBe(first.resolvedDrvPath);
    const rs = await caughtUp(farm);
    expect(incoherence(rs)).toEqual([
      {
        resolvedDrvPath: first.resolvedDrvPath,
        output: 'out',
        paths: {
          [first.outPath]: [{ drvPath: ca.drvPath, attemptId: 'c1', farm: 'farm-a', machine: 'm1' }],
          [second.outPath]: [{ drvPath: ca.drvPath, attemptId: 'c2', farm: 'farm-b', machine: 'm2' }],
        },
      },
    ]);
  });

  it('a rebuild to the same path is coherent', async () => {
    const farm = new Farm();
    const lib = farm.drv('lib');
    farm.built(lib, 'l1', { farm: 'farm-a' });
    farm.built(lib, 'l2', { farm: 'farm-b' });
    const rs = await caughtUp(farm);
    expect(incoherence(rs)).toEqual([]);
    expect(baseTrace(rs, lib.drvPath, 'out')?.paths[lib.outputs.out]).toHaveLength(2);
  });

  it('shouldBuild over the store forgets a DependencyFailed failure once the dependency has succeeded', async () => {
    const farm = new Farm();
    const lib = farm.drv('lib');
    const app = farm.drv('app', [lib]);
    farm.started(lib, 'l1');
    farm.failed(lib, 'l1', { status: 'PermanentFailure', cause: 'builder', cache: 'cache' });
    farm.started(app, 'p1');
    farm.failed(app, 'p1', { status: 'DependencyFailed', cause: 'dependency', cache: 'cache' });
    await live.append(farm.log);
    const { runner, rs } = live.runner('read');
    await runner.catchUp();
    expect(shouldBuild(rs, app.drvPath, { now: farm.now() }).decision).toBe('skip-cached-failure');
    farm.log.length = 0;
    farm.built(lib, 'l2');
    await live.append(farm.log);
    await runner.catchUp();
    expect(shouldBuild(rs, app.drvPath, { now: farm.now() })).toMatchObject({
      decision: 'build',
      reason: `dependency ${lib.drvPath} succeeded since the failure`,
    });
    expect(shouldBuild(rs, lib.drvPath, { now: farm.now() }).decision).toBe('skip-valid');
  });

  it('closure and downstream follow inputDrvs both ways', async () => {
    const farm = new Farm();
    const stdenv = farm.drv('stdenv');
    const zlib = farm.drv('zlib', [stdenv]);
    const curl = farm.drv('curl', [stdenv, zlib]);
    const git = farm.drv('git', [curl]);
    const rs = await caughtUp(farm);
    expect(closure(rs, git.drvPath).drvPaths).toEqual([stdenv.drvPath, zlib.drvPath, curl.drvPath].sort());
    expect(downstream(rs, stdenv.drvPath).drvPaths).toEqual([zlib.drvPath, curl.drvPath, git.drvPath].sort());
    expect(downstream(rs, git.drvPath).drvPaths).toEqual([]);
    expect(downstream(rs, stdenv.drvPath, { limit: 2 })).toMatchObject({ truncated: true });
    expect(() => downstream(rs, stdenv.drvPath, { limit: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('FODs are due when never verified, when their inputs changed, when stale, or after a mismatch', async () => {
    const farm = new Farm();
    const fresh = farm.drv('src-fresh.tar.gz', [], 'fod');
    const never = farm.drv('src-never.tar.gz', [], 'fod');
    const bad = farm.drv('src-bad.tar.gz', [], 'fod');
    const changed = farm.drv('src-changed.tar.gz', [], 'fod');
    for (const [d, id] of [
      [fresh, 'f1'],
      [bad, 'b1'],
      [changed, 'c1'],
    ] as const) {
      farm.built(d, id);
      farm.fod(d, id, d !== bad);
    }
    // the same fixed output, fetched by a new fetcher (a new .drv): its inputs changed
    const fetcher = farm.drv('fetcher');
    const changedAgain = farm.drv('src-changed.tar.gz', [fetcher], 'fod');
    expect(changedAgain.outputs.out).toBe(changed.outputs.out);
    const rs = await caughtUp(farm);
    const due = (olderThanMs: number) =>
      Object.fromEntries(fodsDue(rs, { now: farm.now(), olderThanMs }).map((d) => [d.currentDrvPath, d.due]));
    expect(due(30 * DAY)).toEqual({
      [never.drvPath]: 'never-verified',
      [bad.drvPath]: 'mismatch',
      [changedAgain.drvPath]: 'inputs-changed',
    });
    expect(Object.values(due(0))).toContain('stale');
    expect(due(30 * DAY)[fresh.drvPath]).toBeUndefined();
  });
});
