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
import type { AttemptSucceeded, ResultInvalidated, ResultPoisoned } from '../events/types';
import type { BadPathDoc } from '../projections/bad-paths';
import { idempotencyKeys } from '../ids';
import type { AttemptRef } from '../projections/build-trace';

/**
 * What the walk reads of a drv: its serial and its results still trusted. The valid-results index
 * holds exactly these; a drv-state document has them too (same rules), with much more besides.
 */
export interface ValidResultsView {
  serial: number;
  results: Readonly<Record<string, { outputs: Readonly<Record<string, string>> }>>;
}

export interface InvalidationView {
  validResults(drvPath: string): ValidResultsView | undefined;
  /** the attempts whose reported inputs include this store path */
  consumersOf(storePath: string): readonly AttemptRef[];
  /** successful attempts of drvs that list this drv among their inputDrvs and reported no inputs */
  unreportedConsumersOf(drvPath: string): readonly AttemptRef[];
}

interface Affected {
  /** dense index, for the topological sort */
  index: number;
  drvPath: string;
  /** the drv's current serial (from its state, read once) */
  serial: number;
  because: { drvPath: string; outputPath: string };
  /** indexes of the affected drvs that consumed this one's outputs */
  consumers: number[];
  /** a handful each: arrays are cheaper than Sets for 91k of them */
  attemptIds: string[];
  outputPaths: string[];
}

/**
 * `only`: walk from this one consumer of the root's paths instead of all of them (a late success,
 * see lateInvalidationRoots); the rest of the walk is the same.
 */
export function planInvalidation(
  root: ResultPoisoned,
  source: InvalidationView,
  only?: AttemptRef,
): ResultInvalidated[][] {
  const rootDrv = root.data.drvPath;
  // per drv seen: its state, read once however many of its inputs were poisoned, and its entry once
  // affected (one Map lookup per visited edge: with 100k drvs the lookups are most of the walk)
  const nodes = new Map<string, { state: ValidResultsView | undefined; entry: Affected | undefined }>();
  const byIndex: Affected[] = [];
  const seenPaths = new Set<string>();
  const fellBack = new Set<string>();
  // `producer`: the affected drv whose output `path` is (undefined for the root's own paths)
  const work: { path: string; from: string; producer: Affected | undefined }[] = [];
  for (const p of root.data.outputPaths) {
    seenPaths.add(p);
    work.push({ path: p, from: rootDrv, producer: undefined });
  }

  const visit = (
    drvPath: string,
    attemptId: string,
    from: string,
    producer: Affected | undefined,
    outputPath: string,
  ): void => {
    if (drvPath === rootDrv) return;
    let node = nodes.get(drvPath);
    if (node === undefined) {
      node = { state: source.validResults(drvPath), entry: undefined };
      nodes.set(drvPath, node);
    }
    const result = node.state?.results[attemptId];
    if (!result) return; // not a valid result any more: nothing to invalidate
    let entry = node.entry;
    if (!entry) {
      entry = {
        index: byIndex.length,
        drvPath,
        serial: node.state!.serial,
        because: { drvPath: from, outputPath },
        consumers: [],
        attemptIds: [],
        outputPaths: [],
      };
      node.entry = entry;
      byIndex.push(entry);
    }
    // an edge producer -> consumer among affected drvs (duplicates only add to the in-degree count twice, symmetrically)
    if (producer !== undefined) producer.consumers.push(entry.index);
    if (entry.attemptIds.includes(attemptId)) return;
    entry.attemptIds.push(attemptId);
    // outputs in name order, not the document's key order: a document fresh from an event keeps the
    // farm's order, one read back from a store its own, and the walk's order decides `because`
    const outputs = result.outputs;
    for (const name of Object.keys(outputs).sort()) {
      const p = outputs[name];
      if (!entry.outputPaths.includes(p)) entry.outputPaths.push(p);
      if (!seenPaths.has(p)) {
        seenPaths.add(p);
        work.push({ path: p, from: drvPath, producer: entry });
      }
    }
  };

  while (work.length > 0) {
    const { path, from, producer } = work.pop()!;
    if (only && from === rootDrv) {
      visit(only.drvPath, only.attemptId, from, producer, path);
      continue;
    }
    for (const ref of source.consumersOf(path)) visit(ref.drvPath, ref.attemptId, from, producer, path);
    if (!fellBack.has(from)) {
      fellBack.add(from);
      for (const ref of source.unreportedConsumersOf(from))
        visit(ref.drvPath, ref.attemptId, from, producer, path);
    }
  }

  const meta = {
    commandId: root.id,
    correlationId: root.metadata.correlationId,
    causationId: root.id,
    recordedAt: root.metadata.recordedAt,
  };
  // every event of one walk has the same metadata: one shared object, so a store serialises it once
  let metadata: ResultInvalidated['metadata'] | undefined;
  const eventFor = (a: Affected): ResultInvalidated => {
    const drvPath = a.drvPath;
    const attemptIds = a.attemptIds.sort();
    const e = makeEvent(
      'ResultInvalidated',
      {
        drvPath,
        serial: a.serial,
        because: { ...a.because, rootEventId: root.id },
        attemptIds,
        outputPaths: a.outputPaths.sort(),
      },
      idempotencyKeys.resultInvalidated(root.id, drvPath, attemptIds),
      meta,
    );
    metadata ??= e.metadata;
    return { ...e, metadata };
  };
  return topologicalLevels(byIndex.map((a) => a.consumers)).map((level) =>
    level
      .map((i) => byIndex[i])
      .sort(byDrvPath)
      .map(eventFor),
  );
}

/**
 * The same indexes as an InvalidationView, numbered once: drvs and store paths are integers, the
 * consumer links integer arrays (CSR: the refs of node i are [start[i], start[i+1])), so a walk over a
 * stdenv's 366k links compares and indexes numbers instead of hashing path strings. Built by the
 * caller from one scan of each index (libs/projections); the plan is the same as over the view.
 */
export interface InvalidationGraph {
  /** drv number -> path; a drv without valid results has a number too if an index names it */
  readonly drvPaths: readonly string[];
  /** true if drv numbers ascend with their paths (JavaScript order) for every drv with results */
  readonly drvNumbersSorted: boolean;
  /** the drv's number, or -1 */
  drvNumber(drvPath: string): number;
  /** the store path's number, or -1 if no index and no result names it */
  storePathNumber(storePath: string): number;
  /** store path number -> path */
  readonly storePaths: readonly string[];
  /**
   * per store path: the attempts whose reported inputs include it, as (drv number, result number:
   * an index into resultAttempt), in index key order; links to attempts that are not a valid result
   * (the walk would skip them) are left out
   */
  readonly consumerStart: Int32Array;
  readonly consumerDrv: Int32Array;
  readonly consumerResult: Int32Array;
  /** per drv: the successful attempts of drvs listing it among their inputDrvs that reported no inputs (same form) */
  readonly unreportedStart: Int32Array;
  readonly unreportedDrv: Int32Array;
  readonly unreportedResult: Int32Array;
  /** per drv: its serial (-1: no valid-results document) */
  readonly serial: Float64Array;
  /** per drv: its valid results [start, end) in resultAttempt; per result its outputs [start, end) */
  readonly resultStart: Int32Array;
  readonly resultAttempt: readonly string[];
  readonly outputStart: Int32Array;
  /** output store path numbers, in the order of the result's output names */
  readonly outputPath: Int32Array;
}

/**
 * planInvalidation over an InvalidationGraph: the same walk, step for step (same work-list order,
 * same first `because`), so the same events in the same order.
 */
export function planInvalidationCompact(
  root: ResultPoisoned,
  g: InvalidationGraph,
  only?: AttemptRef,
): ResultInvalidated[][] {
  const rootDrvPath = root.data.drvPath;
  const rootDrv = g.drvNumber(rootDrvPath);
  const nDrvs = g.drvPaths.length;
  // the affected drvs ("entries", numbered as reached) in flat arrays, not an object each: a stdenv
  // walk reaches ~90k, and their garbage was collected in the middle of the plan
  const entryOf = new Int32Array(nDrvs).fill(-1);
  let entries = 0;
  const entryDrv = new Int32Array(nDrvs);
  /** the first upstream that reached the entry: drv number (-2: the root) and store path number */
  const becauseFrom = new Int32Array(nDrvs);
  const becausePath = new Int32Array(nDrvs);
  // per entry, two linked lists: its invalidated results (indexes into resultAttempt), and the
  // entries that consumed its outputs (edges for the topological sort)
  const resultHead = new Int32Array(nDrvs).fill(-1);
  const resultNext: number[] = [];
  const resultOf: number[] = [];
  const consumerHead = new Int32Array(nDrvs).fill(-1);
  const consumerNext: number[] = [];
  const consumerOf: number[] = [];
  // store paths the index does not know (the root's own, perhaps) get numbers past the graph's
  const nPaths = g.storePaths.length;
  const extraPaths: string[] = [];
  const pathNumber = (p: string): number => {
    const n = g.storePathNumber(p);
    if (n >= 0) return n;
    let i = extraPaths.indexOf(p);
    if (i < 0) i = extraPaths.push(p) - 1;
    return nPaths + i;
  };
  const pathOf = (n: number): string => (n < nPaths ? g.storePaths[n] : extraPaths[n - nPaths]);
  const seenPaths = new Uint8Array(nPaths);
  const seenExtra = new Set<number>();
  const seen = (n: number): boolean => (n < nPaths ? seenPaths[n] === 1 : seenExtra.has(n));
  const markSeen = (n: number): void => {
    if (n < nPaths) seenPaths[n] = 1;
    else seenExtra.add(n);
  };
  const fellBack = new Uint8Array(nDrvs);
  let rootFellBack = false;
  // work list: path number, from drv (-2: the root, whatever its number), producer entry (-1: none)
  const workPath: number[] = [];
  const workFrom: number[] = [];
  const workProducer: number[] = [];
  for (const p of root.data.outputPaths) {
    const n = pathNumber(p);
    markSeen(n);
    workPath.push(n);
    workFrom.push(-2);
    workProducer.push(-1);
  }

  // `r`: the result (a valid one: links to others are not in the graph)
  const visit = (drv: number, r: number, from: number, producer: number, outputPath: number): void => {
    if (drv === rootDrv) return;
    let index = entryOf[drv];
    if (index < 0) {
      index = entries++;
      entryOf[drv] = index;
      entryDrv[index] = drv;
      becauseFrom[index] = from;
      becausePath[index] = outputPath;
    }
    if (producer >= 0) {
      consumerOf.push(index);
      consumerNext.push(consumerHead[producer]);
      consumerHead[producer] = consumerOf.length - 1;
    }
    for (let x = resultHead[index]; x >= 0; x = resultNext[x]) if (resultOf[x] === r) return;
    resultOf.push(r);
    resultNext.push(resultHead[index]);
    resultHead[index] = resultOf.length - 1;
    for (let o = g.outputStart[r], oEnd = g.outputStart[r + 1]; o < oEnd; o++) {
      const p = g.outputPath[o];
      if (!seen(p)) {
        markSeen(p);
        workPath.push(p);
        workFrom.push(drv);
        workProducer.push(index);
      }
    }
  };

  let onlyDrv = -1;
  let onlyResult = -1;
  if (only) {
    onlyDrv = g.drvNumber(only.drvPath);
    if (onlyDrv >= 0)
      for (let r = g.resultStart[onlyDrv]; r < g.resultStart[onlyDrv + 1]; r++)
        if (g.resultAttempt[r] === only.attemptId) onlyResult = r;
  }
  while (workPath.length > 0) {
    const path = workPath.pop()!;
    const from = workFrom.pop()!;
    const producer = workProducer.pop()!;
    if (only && from === -2) {
      // not a valid result any more: nothing to invalidate
      if (onlyResult >= 0) visit(onlyDrv, onlyResult, from, producer, path);
      continue;
    }
    if (path < nPaths)
      for (let i = g.consumerStart[path], end = g.consumerStart[path + 1]; i < end; i++)
        visit(g.consumerDrv[i], g.consumerResult[i], from, producer, path);
    const fromDrv = from === -2 ? rootDrv : from;
    if (from === -2 ? !rootFellBack : !fellBack[from]) {
      if (from === -2) rootFellBack = true;
      else fellBack[from] = 1;
      if (fromDrv >= 0)
        for (let i = g.unreportedStart[fromDrv], end = g.unreportedStart[fromDrv + 1]; i < end; i++)
          visit(g.unreportedDrv[i], g.unreportedResult[i], from, producer, path);
    }
  }

  const meta = {
    commandId: root.id,
    correlationId: root.metadata.correlationId,
    causationId: root.id,
    recordedAt: root.metadata.recordedAt,
  };
  const rootEventId = root.id;
  let metadata: ResultInvalidated['metadata'] | undefined;
  const eventFor = (index: number): ResultInvalidated => {
    const drv = entryDrv[index];
    const drvPath = g.drvPaths[drv];
    const attemptIds: string[] = [];
    const outputPaths: string[] = [];
    for (let x = resultHead[index]; x >= 0; x = resultNext[x]) {
      const r = resultOf[x];
      attemptIds.push(g.resultAttempt[r]);
      for (let o = g.outputStart[r], oEnd = g.outputStart[r + 1]; o < oEnd; o++) {
        const p = pathOf(g.outputPath[o]);
        if (!outputPaths.includes(p)) outputPaths.push(p);
      }
    }
    attemptIds.sort();
    const from = becauseFrom[index];
    const e = makeEvent(
      'ResultInvalidated',
      {
        drvPath,
        serial: g.serial[drv],
        because: {
          drvPath: from === -2 ? rootDrvPath : g.drvPaths[from],
          outputPath: pathOf(becausePath[index]),
          rootEventId,
        },
        attemptIds,
        outputPaths: outputPaths.sort(),
      },
      idempotencyKeys.resultInvalidated(rootEventId, drvPath, attemptIds),
      meta,
    );
    metadata ??= e.metadata;
    e.metadata = metadata;
    return e;
  };
  const order = g.drvNumbersSorted
    ? (a: number, b: number) => entryDrv[a] - entryDrv[b]
    : (a: number, b: number) => {
        const x = g.drvPaths[entryDrv[a]];
        const y = g.drvPaths[entryDrv[b]];
        return x < y ? -1 : x > y ? 1 : 0;
      };
  return linkedTopologicalLevels(entries, consumerHead, consumerNext, consumerOf).map((level) =>
    level.sort(order).map(eventFor),
  );
}

function byDrvPath(a: Affected, b: Affected): number {
  return a.drvPath < b.drvPath ? -1 : a.drvPath > b.drvPath ? 1 : 0;
}

/**
 * Kahn's algorithm by levels over nodes 0..n-1 (`consumers[i]`: the nodes that depend on i; a repeated
 * edge counts twice on both sides, so it is harmless). Returns node indexes per level.
 */
export function topologicalLevels(consumers: readonly (readonly number[])[]): number[][] {
  const head = new Int32Array(consumers.length).fill(-1);
  const next: number[] = [];
  const to: number[] = [];
  // linked back to front, so each node's list is walked in the array's order
  consumers.forEach((tos, i) => {
    for (let k = tos.length - 1; k >= 0; k--) {
      to.push(tos[k]);
      next.push(head[i]);
      head[i] = to.length - 1;
    }
  });
  return linkedTopologicalLevels(consumers.length, head, next, to);
}

/**
 * topologicalLevels over edges kept as linked lists: node i's consumers are `to[e]` for e = head[i],
 * next[e], ... (-1 ends). The same levels as a set; the order within a level is the caller's to fix.
 */
function linkedTopologicalLevels(
  n: number,
  head: Int32Array,
  next: readonly number[],
  to: readonly number[],
): number[][] {
  const indegree = new Int32Array(n);
  for (let e = 0; e < to.length; e++) indegree[to[e]]++;
  const levels: number[][] = [];
  let current: number[] = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) current.push(i);
  let placed = 0;
  while (current.length > 0) {
    levels.push(current);
    placed += current.length;
    const following: number[] = [];
    for (const i of current)
      for (let e = head[i]; e >= 0; e = next[e]) if (--indegree[to[e]] === 0) following.push(to[e]);
    current = following;
  }
  // a cycle cannot come from real builds (an attempt consumes what existed before it); if the log
  // says otherwise, still invalidate those results, last
  if (placed < n) {
    const rest: number[] = [];
    for (let i = 0; i < n; i++) if (indegree[i] > 0) rest.push(i);
    levels.push(rest);
  }
  return levels;
}

/**
 * A success recorded after the poisoning that condemned a path it consumed: the poisoning, seen from
 * that path, as a root to walk from this success only (`planInvalidation(root, view, only)`). The
 * original root's id is kept, so the events are the ones a walk including this result would write.
 * A success recorded before the poisoning was part of that walk already.
 */
export function lateInvalidationRoots(
  success: AttemptSucceeded,
  inputs: Readonly<Record<string, string>> | undefined,
  badPath: (storePath: string) => BadPathDoc | undefined,
): ResultPoisoned[] {
  const roots = new Map<string, ResultPoisoned>();
  for (const path of [...new Set(Object.values(inputs ?? {}))].sort()) {
    const bad = badPath(path);
    if (!bad || bad.drvPath === success.data.drvPath || success.metadata.recordedAt <= bad.recordedAt)
      continue;
    const key = `${bad.rootEventId} ${bad.drvPath}`;
    const known = roots.get(key);
    if (known) {
      known.data.outputPaths.push(path);
      continue;
    }
    roots.set(key, {
      id: bad.rootEventId,
      type: 'ResultPoisoned',
      data: {
        drvPath: bad.drvPath,
        serial: 0,
        reason: 'late consumer',
        scope: { kind: 'outputs', outputPaths: [path] },
        cause: 'operator',
        attemptIds: [],
        outputPaths: [path],
      },
      metadata: {
        schemaVersion: 1,
        correlationId: bad.correlationId,
        causationId: bad.rootEventId,
        recordedAt: bad.recordedAt,
      },
    });
  }
  return [...roots.values()];
}
