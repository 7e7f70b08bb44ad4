/**
 * valid-results, the invalidation walk's compact index: for every drv it holds exactly drv-state's
 * serial and trusted results, through successes, poisonings and invalidations; and a walk over it plans
 * the same events as a walk over drv-state.
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
  type InvalidationView,
  type ResultPoisoned,
  type ValidResultsDoc,
  type ValidResultsView,
} from '@buildgraph/domain';
import { buildInvalidationGraph } from '@buildgraph/projections';
import { historyEvents } from '../support/history';
import { project } from './support';

type Docs = ReturnType<typeof project>;

function view(docs: Docs, results: (drvPath: string) => ValidResultsView | undefined): InvalidationView {
  // index keys `<a> <drvPath> <attemptId>`, grouped by `<a>` in key order
  const index = (model: string) => {
    const by = new Map<string, { drvPath: string; attemptId: string }[]>();
    for (const k of [...docs.get(model)!.keys()].sort()) {
      const [a, drvPath, attemptId] = k.split(' ');
      by.set(a, [...(by.get(a) ?? []), { drvPath, attemptId }]);
    }
    return (a: string) => by.get(a) ?? [];
  };
  return { validResults: results, consumersOf: index(CONSUMERS), unreportedConsumersOf: index(UNREPORTED) };
}

function expectSameAsDrvState(docs: Docs): void {
  const states = docs.get(DRV_STATE) as Map<string, DrvStateDoc>;
  const compact = docs.get(VALID_RESULTS) as Map<string, ValidResultsDoc>;
  const mismatches: string[] = [];
  for (const [drvPath, state] of states) {
    const c = compact.get(drvPath);
    const expected = { serial: state.serial, results: Object.keys(state.results).sort() };
    const actual = { serial: c?.serial ?? 0, results: Object.keys(c?.results ?? {}).sort() };
    if (JSON.stringify(expected) !== JSON.stringify(actual)) mismatches.push(drvPath);
    for (const [attemptId, r] of Object.entries(state.results))
      if (JSON.stringify(c?.results[attemptId]?.outputs) !== JSON.stringify(r.outputs))
        mismatches.push(drvPath);
  }
  // no document for a drv with nothing trusted and no serial
  for (const [drvPath, c] of compact)
    if (c.serial === 0 && Object.keys(c.results).length === 0) mismatches.push(`${drvPath} (empty)`);
  expect(mismatches).toEqual([]);
}

describe('valid-results', () => {
  const { events: history, facts } = historyEvents({ seed: 11, drvs: 1500 });
  const events: DomainEvent[] = history.map((h) => h.event);

  it('holds drv-state serial and trusted results for every drv of a generated history with poisonings', () => {
    expect(events.some((e) => e.type === 'ResultPoisoned')).toBe(true);
    expectSameAsDrvState(project(events));
  });

  it('a stdenv poisoning planned over it is the one planned over drv-state, and after it both still agree', () => {
    const before = project(events);
    const stdenv = before.get(DRV_STATE)!.get(facts.stdenv) as DrvStateDoc;
    const [attemptId, result] = Object.entries(stdenv.results)[0];
    const root = makeEvent(
      'ResultPoisoned',
      {
        drvPath: facts.stdenv,
        serial: stdenv.serial + 1,
        reason: 'flaky disk',
        scope: { kind: 'attempt', attemptId },
        cause: 'operator',
        attemptIds: [attemptId],
        outputPaths: Object.values(result.outputs).sort(),
      },
      idempotencyKeys.resultPoisoned(facts.stdenv, stdenv.serial + 1),
      { commandId: 'spec', recordedAt: '2026-01-01T00:00:00.000Z' },
    ) as ResultPoisoned;
    const after = project([...events, root]);
    const compact = planInvalidation(
      root,
      view(after, (d) => after.get(VALID_RESULTS)!.get(d) as ValidResultsDoc | undefined),
    );
    const full = planInvalidation(
      root,
      view(after, (d) => after.get(DRV_STATE)!.get(d) as DrvStateDoc | undefined),
    );
    expect(compact.flat().length).toBeGreaterThan(1000);
    expect(compact).toEqual(full);
    // the numbered graph (what the policy walks for a large poisoning) plans the same, event for event
    const rows = [...after.get(VALID_RESULTS)!.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, d]): [string, string] => [k, JSON.stringify(d)]);
    const graph = buildInvalidationGraph({
      validResults: rows,
      consumers: () => [...after.get(CONSUMERS)!.keys()].sort(),
      unreported: () => [...after.get(UNREPORTED)!.keys()].sort(),
    })!;
    expect(planInvalidationCompact(root, graph)).toEqual(compact);
    const invalidated = project([...events, root, ...compact.flat()]);
    expectSameAsDrvState(invalidated);
    // nothing downstream of the stdenv is trusted any more
    const stillTrusted = compact.flat().filter((e) => {
      const doc = invalidated.get(VALID_RESULTS)!.get(e.data.drvPath) as ValidResultsDoc | undefined;
      return e.data.attemptIds.some((a) => doc?.results[a] !== undefined);
    });
    expect(stillTrusted).toEqual([]);
  });
});
