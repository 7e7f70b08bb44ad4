/**
 * The invalidation graph kept in memory between poisonings: followed commit by commit, it plans what a
 * graph loaded from the store at the same position plans, and what the seeking walk plans.
 */
import {
  CONSUMERS,
  DRV_STATE,
  UNREPORTED,
  VALID_RESULTS,
  idempotencyKeys,
  makeEvent,
  planInvalidation,
  planInvalidationCompact,
  type DomainEvent,
  type DrvStateDoc,
  type ResultPoisoned,
} from '@buildgraph/domain';
import {
  LiveInvalidationGraph,
  loadInvalidationGraph,
  type Processor,
  type ReadStore,
  invalidationView,
} from '@buildgraph/projections';
import { historyEvents } from '../support/history';
import { openLive, type Live } from './live';

/** Poisons the first valid result of `drvPath` (as the read store has it now). */
function poisoning(rs: ReadStore, drvPath: string, n: number): ResultPoisoned | undefined {
  const state = rs.get<DrvStateDoc>(DRV_STATE, drvPath);
  const valid = Object.entries(state?.results ?? {});
  if (!state || valid.length === 0) return undefined;
  const [attemptId, result] = valid[0];
  return makeEvent(
    'ResultPoisoned',
    {
      drvPath,
      serial: state.serial + 1,
      reason: `spec ${n}`,
      scope: { kind: 'attempt', attemptId },
      cause: 'operator',
      attemptIds: [attemptId],
      outputPaths: Object.values(result.outputs).sort(),
    },
    idempotencyKeys.resultPoisoned(drvPath, state.serial + 1),
    { commandId: `spec-${n}`, recordedAt: '2026-01-01T00:00:00.000Z' },
  ) as ResultPoisoned;
}

describe('the invalidation graph kept between poisonings', () => {
  let live: Live;
  beforeEach(async () => {
    live = await openLive();
  });
  afterEach(async () => {
    await live.close();
  });

  it('followed commit by commit through a generated history, it plans what a graph loaded from the store plans', async () => {
    const { events: history, facts } = historyEvents({ seed: 11, drvs: 1500 });
    const events: DomainEvent[] = history.map((h) => h.event);
    const kept: { graph?: LiveInvalidationGraph } = {};
    let changes = 0;
    const follower: Processor<DomainEvent> = {
      name: 'follower',
      watches: [VALID_RESULTS, CONSUMERS, UNREPORTED],
      handle: async () => {},
      committed: (committed) => {
        for (const change of committed) {
          expect(kept.graph!.apply(change)).toBe(true);
          changes++;
        }
      },
    };
    const { runner, rs } = live.runner('follower', [follower]);
    kept.graph = LiveInvalidationGraph.load(rs);
    expect(kept.graph).toBeDefined();

    const comparePlans = (): number => {
      // the stdenv, and a spread of other drvs with a valid result
      const drvPaths = [facts.stdenv, ...facts.drvPaths.filter((_, i) => i % 97 === 5)];
      const loaded = loadInvalidationGraph(rs)!;
      const seeking = invalidationView(rs);
      let planned = 0;
      drvPaths.forEach((drvPath, n) => {
        const root = poisoning(rs, drvPath, n);
        if (!root) return;
        const expected = planInvalidation(root, seeking);
        expect(planInvalidationCompact(root, loaded)).toEqual(expected);
        expect(planInvalidationCompact(root, kept.graph!.graph())).toEqual(expected);
        planned += expected.flat().length;
      });
      return planned;
    };

    // ten commits of a tenth of the history each, compared halfway and at the end
    const tenth = Math.ceil(events.length / 10);
    for (let i = 0; i < 10; i++) {
      await live.append(events.slice(i * tenth, (i + 1) * tenth));
      await runner.catchUp();
      if (i === 4) expect(comparePlans()).toBeGreaterThan(0);
    }
    expect(changes).toBeGreaterThan(1000);
    const stdenvWalk = comparePlans();
    expect(stdenvWalk).toBeGreaterThan(1000);

    // the stdenv poisoned and its invalidations recorded: results leave the graph, and it still agrees
    const root = poisoning(rs, facts.stdenv, 0)!;
    const graph = kept.graph!;
    const invalidations = planInvalidationCompact(root, graph.graph()).flat();
    await live.append([root, ...invalidations]);
    await runner.catchUp();
    expect(planInvalidationCompact(root, graph.graph()).flat()).toEqual([]);
    comparePlans();
  });
});
