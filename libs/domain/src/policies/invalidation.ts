/**
 * The invalidation policy, pure: given a ResultPoisoned and a view of the read models, which results
 * consumed the poisoned outputs, transitively, and the ResultInvalidated events that say so, in
 * topological order (levels: every event in a level may be appended at once; a level comes after
 * every level it consumed from).
 *
 * "Consumed" is what the attempt reported (its inputRealisations, or its AttemptResolved). Only an
 * attempt that reported nothing falls back to graph edges: it is assumed to have used every input
 * drv. A result that did not consume the poisoned path is untouched, even if it builds the same name.
 */
import { makeEvent } from '../commands';
import type { ResultInvalidated, ResultPoisoned } from '../events/types';
import { idempotencyKeys } from '../ids';
import type { AttemptRef } from '../projections/build-trace';
import type { DrvStateDoc } from '../projections/drv-state';

export interface InvalidationView {
  drvState(drvPath: string): DrvStateDoc | undefined;
  /** the attempts whose reported inputs include this store path */
  consumersOf(storePath: string): readonly AttemptRef[];
  /** successful attempts of drvs that list this drv among their inputDrvs and reported no inputs */
  unreportedConsumersOf(drvPath: string): readonly AttemptRef[];
}

interface Affected {
  because: { drvPath: string; outputPath: string };
  attemptIds: Set<string>;
  outputPaths: Set<string>;
}

export function planInvalidation(root: ResultPoisoned, source: InvalidationView): ResultInvalidated[][] {
  const rootDrv = root.data.drvPath;
  // each drv's state is read once, however many of its inputs were poisoned
  const states = new Map<string, DrvStateDoc | undefined>();
  const view = {
    ...source,
    drvState: (d: string): DrvStateDoc | undefined => {
      if (!states.has(d)) states.set(d, source.drvState(d));
      return states.get(d);
    },
  };
  const affected = new Map<string, Affected>();
  /** producer drv -> consumer drvs, among affected drvs (the root excluded) */
  const edges = new Map<string, Set<string>>();
  const seenPaths = new Set<string>();
  const fellBack = new Set<string>();
  const work: { path: string; from: string }[] = [];
  for (const p of root.data.outputPaths) {
    seenPaths.add(p);
    work.push({ path: p, from: rootDrv });
  }

  const visit = (drvPath: string, attemptId: string, from: string, outputPath: string): void => {
    if (drvPath === rootDrv) return;
    const result = view.drvState(drvPath)?.results[attemptId];
    if (!result) return; // not a valid result any more: nothing to invalidate
    let entry = affected.get(drvPath);
    if (!entry) {
      entry = { because: { drvPath: from, outputPath }, attemptIds: new Set(), outputPaths: new Set() };
      affected.set(drvPath, entry);
    }
    if (from !== rootDrv) {
      let out = edges.get(from);
      if (!out) edges.set(from, (out = new Set()));
      out.add(drvPath);
    }
    if (entry.attemptIds.has(attemptId)) return;
    entry.attemptIds.add(attemptId);
    for (const p of Object.values(result.outputs)) {
      entry.outputPaths.add(p);
      if (!seenPaths.has(p)) {
        seenPaths.add(p);
        work.push({ path: p, from: drvPath });
      }
    }
  };

  while (work.length > 0) {
    const { path, from } = work.pop()!;
    for (const ref of view.consumersOf(path)) visit(ref.drvPath, ref.attemptId, from, path);
    if (!fellBack.has(from)) {
      fellBack.add(from);
      for (const ref of view.unreportedConsumersOf(from)) visit(ref.drvPath, ref.attemptId, from, path);
    }
  }

  const meta = {
    commandId: root.id,
    correlationId: root.metadata.correlationId,
    causationId: root.id,
    recordedAt: root.metadata.recordedAt,
  };
  const eventFor = (drvPath: string): ResultInvalidated => {
    const a = affected.get(drvPath)!;
    return makeEvent(
      'ResultInvalidated',
      {
        drvPath,
        serial: view.drvState(drvPath)?.serial ?? 0,
        because: { ...a.because, rootEventId: root.id },
        attemptIds: [...a.attemptIds].sort(),
        outputPaths: [...a.outputPaths].sort(),
      },
      idempotencyKeys.resultInvalidated(root.id, drvPath),
      meta,
    );
  };
  return topologicalLevels([...affected.keys()], edges).map((level) => level.map(eventFor));
}

/** Kahn's algorithm by levels; each level sorted so the plan is the same on every replica. */
export function topologicalLevels(nodes: readonly string[], edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const indegree = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const [from, tos] of edges) {
    if (!indegree.has(from)) continue;
    for (const to of tos) if (indegree.has(to)) indegree.set(to, indegree.get(to)! + 1);
  }
  const levels: string[][] = [];
  let current = nodes.filter((n) => indegree.get(n) === 0);
  let placed = 0;
  while (current.length > 0) {
    current.sort();
    levels.push(current);
    placed += current.length;
    const next: string[] = [];
    for (const n of current) {
      for (const to of edges.get(n) ?? []) {
        if (!indegree.has(to)) continue;
        const d = indegree.get(to)! - 1;
        indegree.set(to, d);
        if (d === 0) next.push(to);
      }
    }
    current = next;
  }
  // a cycle cannot come from real builds (an attempt consumes what existed before it); if the log
  // says otherwise, still invalidate those results, last
  if (placed < nodes.length) levels.push(nodes.filter((n) => indegree.get(n)! > 0).sort());
  return levels;
}
