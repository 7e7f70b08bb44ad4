/**
 * The invalidation policy, on a real event store: poisoning a result invalidates exactly the results
 * built on top of it, transitively and in topological order, and two replicas append no duplicates.
 */
import {
  CONSUMERS,
  UNREPORTED,
  VALID_RESULTS,
  fromStored,
  makeEvent,
  planInvalidation,
  planInvalidationCompact,
  topologicalLevels,
  type ResultInvalidated,
  type ValidResultsDoc,
  type ValidResultsView,
  type ResultPoisoned,
} from '@buildgraph/domain';
import { join } from 'node:path';
import {
  BulkDocs,
  InvalidationPolicy,
  PROJECTIONS,
  PrefixIndex,
  ProjectionRunner,
  ReadStore,
  consumersOf,
  decodeEvent,
  drvState,
  loadInvalidationGraph,
  unreportedConsumersOf,
  invalidationView,
} from '@buildgraph/projections';
import { Farm, type Drv } from './support';
import { openLive, type Live } from './live';

async function invalidations(live: Live): Promise<ResultInvalidated[]> {
  const out: ResultInvalidated[] = [];
  for await (const batch of live.store.readAll({ filter: { eventTypes: ['ResultInvalidated'] } }))
    for (const r of batch) out.push(fromStored(r) as ResultInvalidated);
  return out;
}

/** lib <- app <- tool, plus: a different drv named lib with its own consumer, and a consumer that reported nothing. */
function world(): { farm: Farm; lib: Drv; app: Drv; tool: Drv; otherLib: Drv; otherApp: Drv; silent: Drv } {
  const farm = new Farm();
  const lib = farm.drv('lib');
  const otherLib = farm.drv('lib', [], 'ia', 'another version');
  const app = farm.drv('app', [lib]);
  const tool = farm.drv('tool', [app]);
  const otherApp = farm.drv('other-app', [otherLib]);
  const silent = farm.drv('silent', [lib]);
  farm.built(lib, 'l1');
  farm.built(otherLib, 'o1');
  farm.built(app, 'a1');
  farm.built(tool, 't1');
  farm.built(otherApp, 'p1');
  farm.built(silent, 's1', { consumed: 'none' });
  return { farm, lib, app, tool, otherLib, otherApp, silent };
}

describe('topological levels', () => {
  it('a diamond comes out in three levels, a repeated edge changes nothing, a cycle comes last', () => {
    // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3 (and 0 -> 1 twice)
    const sorted = (levels: number[][]) => levels.map((l) => [...l].sort());
    expect(sorted(topologicalLevels([[1, 2, 1], [3], [3], []]))).toEqual([[0], [1, 2], [3]]);
    // 0 -> 1 -> 2 -> 1
    expect(sorted(topologicalLevels([[1], [2], [1]]))).toEqual([[0], [1, 2]]);
  });
});

describe('the walk is the same whatever order a document lists its outputs in', () => {
  it('a consumer of two outputs of one drv gets the same `because` from a cached and a stored document', () => {
    // lib <- app (outputs out, dev) <- tool, which consumed both of app's outputs
    const path = (name: string) => `/nix/store/${name.padEnd(32, '0')}-${name}`;
    const drv = (name: string) => `${path(name)}.drv`;
    const root = makeEvent(
      'ResultPoisoned',
      {
        drvPath: drv('lib'),
        serial: 1,
        reason: 'spec',
        scope: { kind: 'attempt', attemptId: 'l1' },
        cause: 'operator',
        attemptIds: ['l1'],
        outputPaths: [path('lib')],
      },
      'spec-root',
      { commandId: 'spec', recordedAt: '2026-01-01T00:00:00.000Z' },
    ) as ResultPoisoned;
    const consumers: Record<string, { drvPath: string; attemptId: string }[]> = {
      [path('lib')]: [{ drvPath: drv('app'), attemptId: 'a1' }],
      [path('appout')]: [{ drvPath: drv('tool'), attemptId: 't1' }],
      [path('appdev')]: [{ drvPath: drv('tool'), attemptId: 't1' }],
    };
    const plan = (appOutputs: Record<string, string>) =>
      planInvalidation(root, {
        validResults: (d): ValidResultsView | undefined =>
          d === drv('app')
            ? { serial: 0, results: { a1: { outputs: appOutputs } } }
            : d === drv('tool')
              ? { serial: 0, results: { t1: { outputs: { out: path('tool') } } } }
              : undefined,
        consumersOf: (p) => consumers[p] ?? [],
        unreportedConsumersOf: () => [],
      });
    // as the farm reported them (a document fresh in the runner's cache), and in stored key order
    const fresh = plan({ out: path('appout'), dev: path('appdev') });
    const stored = plan({ dev: path('appdev'), out: path('appout') });
    expect(fresh.flat().map((e) => e.data.drvPath)).toEqual([drv('app'), drv('tool')]);
    expect(fresh).toEqual(stored);
  });
});

describe('invalidation policy', () => {
  let live: Live;
  beforeEach(async () => {
    live = await openLive();
  });
  afterEach(async () => {
    await live.close();
  });

  it('poisoning lib invalidates what consumed it, transitively and in topological order; the other lib is untouched', async () => {
    const w = world();
    const { runner, rs } = live.runner('replica', [new InvalidationPolicy()]);
    await live.append(w.farm.log);
    await runner.start();
    const root = w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out]);
    await live.append([root]);
    await live.settle();

    const events = await invalidations(live);
    const order = events.map((e) => e.data.drvPath);
    expect(new Set(order)).toEqual(new Set([w.app.drvPath, w.tool.drvPath, w.silent.drvPath]));
    expect(order.indexOf(w.app.drvPath)).toBeLessThan(order.indexOf(w.tool.drvPath));
    const tool = events.find((e) => e.data.drvPath === w.tool.drvPath)!;
    expect(tool.data).toMatchObject({
      because: { drvPath: w.app.drvPath, outputPath: w.app.outputs.out, rootEventId: root.id },
      attemptIds: ['t1'],
      outputPaths: [w.tool.outputs.out],
    });
    expect(tool.metadata.causationId).toBe(root.id);
    // the read models follow: consumers invalidated, the other lib's consumer still valid
    expect(drvState(rs, w.tool.drvPath)?.status).toBe('invalidated');
    expect(drvState(rs, w.silent.drvPath)?.status).toBe('invalidated');
    expect(drvState(rs, w.otherApp.drvPath)?.status).toBe('valid');
    expect(drvState(rs, w.otherLib.drvPath)?.status).toBe('valid');
  });

  it('a walk that loads the whole consumer index at once plans the same invalidations as one that seeks', async () => {
    const w = world();
    await live.append(w.farm.log);
    const { runner, rs } = live.runner('read');
    await runner.catchUp();
    const root = w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out]) as ResultPoisoned;
    const plan = (bulkAfter: number) => {
      const consumers = new PrefixIndex(rs, CONSUMERS, (p) => consumersOf(rs, p), bulkAfter);
      const unreported = new PrefixIndex(rs, UNREPORTED, (d) => unreportedConsumersOf(rs, d), bulkAfter);
      const results = new BulkDocs<ValidResultsDoc>(
        rs,
        VALID_RESULTS,
        (d) => rs.get(VALID_RESULTS, d),
        bulkAfter,
      );
      return planInvalidation(root, {
        validResults: (d) => results.get(d),
        consumersOf: (p) => consumers.lookup(p),
        unreportedConsumersOf: (d) => unreported.lookup(d),
      });
    };
    const seeking = plan(Infinity);
    expect(
      seeking
        .flat()
        .map((e) => e.data.drvPath)
        .sort(),
    ).toEqual([w.app.drvPath, w.tool.drvPath, w.silent.drvPath].sort());
    expect(plan(1)).toEqual(seeking);
    const graph = loadInvalidationGraph(rs)!;
    expect(planInvalidationCompact(root, graph)).toEqual(seeking);
    // from one consumer only (a late success), and from one that is not a valid result
    const seekingView = invalidationView(rs);
    for (const only of [
      { drvPath: w.app.drvPath, attemptId: 'a1' },
      { drvPath: w.app.drvPath, attemptId: 'no-such-attempt' },
    ]) {
      const expected = planInvalidation(root, seekingView, only);
      expect(planInvalidationCompact(root, graph, only)).toEqual(expected);
    }
    expect(
      planInvalidation(root, seekingView, { drvPath: w.app.drvPath, attemptId: 'a1' }).flat().length,
    ).toBe(2);
  });

  it('a policy that walks the numbered graph from the first lookup appends what a seeking one plans', async () => {
    const w = world();
    await live.append(w.farm.log);
    const { runner, rs } = live.runner('replica', [new InvalidationPolicy({ bulkAfter: 0 })]);
    await runner.start();
    const root = w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out]) as ResultPoisoned;
    const expected = planInvalidation(root, invalidationView(rs));
    await live.append([root]);
    await live.settle();
    expect(expected.flat()).toHaveLength(3);
    expect((await invalidations(live)).map((e) => [e.id, e.data])).toEqual(
      expected.flat().map((e) => [e.id, e.data]),
    );
  });

  it('a policy keeps its graph current between poisonings: the second plans from what was built since the first', async () => {
    const w = world();
    await live.append(w.farm.log);
    const policy = new InvalidationPolicy({ bulkAfter: 0 });
    const { runner, rs } = live.runner('replica', [policy]);
    await runner.start();
    await live.append([w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out])]);
    await live.settle();
    expect(await invalidations(live)).toHaveLength(3);
    // lib, app and tool rebuilt (new attempts on the same paths), and a new consumer of app
    w.farm.log.length = 0;
    w.farm.built(w.lib, 'l2');
    w.farm.built(w.app, 'a2');
    w.farm.built(w.tool, 't2');
    const viewer = w.farm.drv('viewer', [w.app]);
    w.farm.built(viewer, 'v1');
    await live.append(w.farm.log);
    await live.settle();
    const second = w.farm.poisoned(w.lib, 2, ['l2'], [w.lib.outputs.out]) as ResultPoisoned;
    const expected = planInvalidation(second, invalidationView(rs));
    expect(
      expected
        .flat()
        .map((e) => e.data.drvPath)
        .sort(),
    ).toEqual([w.app.drvPath, w.tool.drvPath, viewer.drvPath].sort());
    await live.append([second]);
    await live.settle();
    const all = await invalidations(live);
    expect(all.slice(3).map((e) => [e.id, e.data])).toEqual(expected.flat().map((e) => [e.id, e.data]));
    // loaded when the runner started, then followed: never loaded again
    expect(policy.graphLoads).toBe(1);
  });

  it('two replicas running the policy on one store append each invalidation once', async () => {
    const w = world();
    await live.append(w.farm.log);
    const a = live.runner('replica-a', [new InvalidationPolicy()]);
    const b = live.runner('replica-b', [new InvalidationPolicy()]);
    await Promise.all([a.runner.start(), b.runner.start()]);
    await live.append([w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out])]);
    await live.settle();
    const events = await invalidations(live);
    expect(events).toHaveLength(3);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    expect(a.rs.digests()).toEqual(b.rs.digests());
  });

  it('a replica restarted after a crash re-runs the policy from its own checkpoint, appending nothing twice', async () => {
    const w = world();
    await live.append(w.farm.log);
    await live.append([w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out])]);
    // the read models caught up, but the policy never ran (as if the process died in between)
    const rs = new ReadStore(join(live.dir, 'replica.sqlite'));
    await new ProjectionRunner({
      events: live.store,
      readStore: rs,
      projections: PROJECTIONS,
      decode: decodeEvent,
    }).catchUp();
    rs.close();
    const again = live.runner('replica', [new InvalidationPolicy()]);
    await again.runner.start();
    await live.settle();
    const third = live.runner('third', [new InvalidationPolicy()]);
    await third.runner.start();
    await live.settle();
    expect(await invalidations(live)).toHaveLength(3);
  });

  it('a result built on the poisoned path after the poisoning is invalidated too; one built after lib was rebuilt is not', async () => {
    const w = world();
    const { runner, rs } = live.runner('replica', [new InvalidationPolicy()]);
    await live.append(w.farm.log);
    await runner.start();
    const root = w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out]);
    await live.append([root]);
    await live.settle();
    const before = (await invalidations(live)).length;
    // a farm that still had lib's bad output builds a new consumer from it
    w.farm.log.length = 0;
    const late = w.farm.drv('late-app', [w.lib]);
    w.farm.built(late, 'late-1');
    await live.append(w.farm.log);
    await live.settle();
    const after = await invalidations(live);
    expect(after).toHaveLength(before + 1);
    expect(after[after.length - 1].data).toMatchObject({
      drvPath: late.drvPath,
      attemptIds: ['late-1'],
      because: { drvPath: w.lib.drvPath, outputPath: w.lib.outputs.out, rootEventId: root.id },
    });
    expect(drvState(rs, late.drvPath)?.status).toBe('invalidated');
    // lib is rebuilt: its path is trusted again, and a new consumer stays valid
    w.farm.log.length = 0;
    w.farm.built(w.lib, 'l2');
    const fresh = w.farm.drv('fresh-app', [w.lib]);
    w.farm.built(fresh, 'fresh-1');
    await live.append(w.farm.log);
    await live.settle();
    expect(await invalidations(live)).toHaveLength(before + 1);
    expect(drvState(rs, fresh.drvPath)?.status).toBe('valid');
  });

  it('a second late attempt of a drv already invalidated for the same poisoning is invalidated too', async () => {
    const w = world();
    const { runner, rs } = live.runner('replica', [new InvalidationPolicy()]);
    await live.append(w.farm.log);
    await runner.start();
    const root = w.farm.poisoned(w.lib, 1, ['l1'], [w.lib.outputs.out]);
    await live.append([root]);
    await live.settle();
    // two farms that still had lib's bad output build the same consumer, one after the other
    w.farm.log.length = 0;
    const late = w.farm.drv('late-app', [w.lib]);
    w.farm.built(late, 'late-1');
    await live.append(w.farm.log);
    await live.settle();
    expect(drvState(rs, late.drvPath)?.status).toBe('invalidated');
    w.farm.log.length = 0;
    w.farm.built(late, 'late-2');
    await live.append(w.farm.log);
    await live.settle();

    const ofLate = (await invalidations(live)).filter((e) => e.data.drvPath === late.drvPath);
    expect(ofLate.map((e) => e.data.attemptIds)).toEqual([['late-1'], ['late-2']]);
    expect(ofLate.every((e) => e.data.because.rootEventId === root.id)).toBe(true);
    expect(drvState(rs, late.drvPath)?.status).toBe('invalidated');
  });

  it('a poisoned output nobody consumed invalidates nothing', async () => {
    const w = world();
    const { runner } = live.runner('replica', [new InvalidationPolicy()]);
    await live.append(w.farm.log);
    await runner.start();
    await live.append([w.farm.poisoned(w.tool, 1, ['t1'], [w.tool.outputs.out])]);
    await live.settle();
    expect(await invalidations(live)).toHaveLength(0);
  });
});
