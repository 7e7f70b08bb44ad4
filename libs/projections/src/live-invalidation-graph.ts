/**
 * The invalidation graph kept in memory between poisonings: loaded once from the valid-results,
 * consumers and unreported-consumers indexes, then changed by each commit of them (the runner's
 * `committed`), so a stdenv poisoning walks at once instead of first scanning and numbering ~500k rows
 * (1-2 s for 100k drvs). `graph()` lays it out as the CSR arrays planInvalidationCompact walks; the
 * plan is the one a graph loaded from the store at the same position gives (tested).
 */
import {
  CONSUMERS,
  KEY_SEP,
  UNREPORTED,
  VALID_RESULTS,
  type InvalidationGraph,
  type ValidResultsDoc,
} from '@buildgraph/domain';
import { Numbering } from './numbering';
import type { DocChange, ReadStore } from './read-store';

/** The rows of valid-results (`[drvPath, json]`), consumers and unreported-consumers (keys). */
export interface IndexRows {
  validResults: Iterable<[string, string]>;
  consumers: () => Iterable<string>;
  unreported: () => Iterable<string>;
}

/** one valid result: its attempt's number and its outputs' path numbers, in output name order */
interface Result {
  attempt: number;
  outputs: Int32Array;
}

/**
 * Index links `<first> <drvPath> <attemptId>` grouped by `first`, each group in key order: CSR arrays
 * over group numbers, plus the links added since, merged in by the next `sort()`.
 */
class Links {
  start = new Int32Array(1);
  drv = new Int32Array(0);
  attempt = new Int32Array(0);
  private addedGroup: number[] = [];
  private addedDrv: number[] = [];
  private addedAttempt: number[] = [];

  get size(): number {
    return this.drv.length + this.addedGroup.length;
  }

  add(group: number, drv: number, attempt: number): void {
    this.addedGroup.push(group);
    this.addedDrv.push(drv);
    this.addedAttempt.push(attempt);
  }

  /**
   * Merges the added links into their groups (now `groups` of them), in key order: drvPath, then
   * attemptId (what the index's keys sort by, since a space sorts before any character of a path); a
   * link added twice is kept once.
   */
  sort(groups: number, drvPaths: readonly string[], attempts: readonly string[]): void {
    const k = this.addedGroup.length;
    if (k === 0 && this.start.length === groups + 1) return;
    const { addedGroup, addedDrv, addedAttempt } = this;
    const compare = (d: number, a: number, e: number, b: number): number =>
      d !== e ? (drvPaths[d] < drvPaths[e] ? -1 : 1) : a === b ? 0 : attempts[a] < attempts[b] ? -1 : 1;
    // the added links bucketed by group, in the order added (a counting sort): a store's rows arrive
    // in key order already, and a live batch adds a few per group
    const bucket = new Int32Array(groups + 1);
    for (let i = 0; i < k; i++) bucket[addedGroup[i] + 1]++;
    for (let g = 0; g < groups; g++) bucket[g + 1] += bucket[g];
    const next = bucket.slice(0, groups);
    const order = new Int32Array(k);
    for (let i = 0; i < k; i++) order[next[addedGroup[i]]++] = i;

    const oldGroups = this.start.length - 1;
    const start = new Int32Array(groups + 1);
    const drv = new Int32Array(this.drv.length + k);
    const attempt = new Int32Array(drv.length);
    let n = 0;
    for (let g = 0; g < groups; g++) {
      start[g] = n;
      const first = n;
      let i = bucket[g];
      const iEnd = bucket[g + 1];
      let sorted = true;
      for (let x = i + 1; x < iEnd && sorted; x++)
        sorted =
          compare(
            addedDrv[order[x - 1]],
            addedAttempt[order[x - 1]],
            addedDrv[order[x]],
            addedAttempt[order[x]],
          ) <= 0;
      if (!sorted)
        order
          .subarray(i, iEnd)
          .sort((x, y) => compare(addedDrv[x], addedAttempt[x], addedDrv[y], addedAttempt[y]));
      let j = g < oldGroups ? this.start[g] : 0;
      const jEnd = g < oldGroups ? this.start[g + 1] : 0;
      while (j < jEnd || i < iEnd) {
        let d: number;
        let a: number;
        if (
          i >= iEnd ||
          (j < jEnd && compare(this.drv[j], this.attempt[j], addedDrv[order[i]], addedAttempt[order[i]]) <= 0)
        ) {
          d = this.drv[j];
          a = this.attempt[j++];
        } else {
          d = addedDrv[order[i]];
          a = addedAttempt[order[i++]];
        }
        if (n > first && drv[n - 1] === d && attempt[n - 1] === a) continue;
        drv[n] = d;
        attempt[n++] = a;
      }
    }
    start[groups] = n;
    this.start = start;
    this.drv = drv.subarray(0, n);
    this.attempt = attempt.subarray(0, n);
    this.addedGroup = [];
    this.addedDrv = [];
    this.addedAttempt = [];
  }
}

export class LiveInvalidationGraph {
  private readonly drvs = new Numbering();
  private readonly paths = new Numbering();
  private readonly attempts = new Numbering();
  /** per drv number: its serial, -1 without a valid-results document */
  private readonly serials: number[] = [];
  private readonly results: (Result[] | undefined)[] = [];
  private readonly consumers = new Links();
  private readonly unreported = new Links();
  private built: InvalidationGraph | undefined;

  private constructor(private readonly maxRows: number) {}

  /** From the store as committed; undefined if an index has more than `maxRows` rows (then the policy seeks). */
  static load(store: ReadStore, maxRows = 5_000_000): LiveInvalidationGraph | undefined {
    return LiveInvalidationGraph.fromRows(
      {
        validResults: store.allRows(VALID_RESULTS),
        consumers: () => store.allKeys(CONSUMERS),
        unreported: () => store.allKeys(UNREPORTED),
      },
      maxRows,
    );
  }

  /** From the three indexes' rows, each in key order (any order works: links are sorted into groups). */
  static fromRows(source: IndexRows, maxRows = 5_000_000): LiveInvalidationGraph | undefined {
    const g = new LiveInvalidationGraph(maxRows);
    for (const [key, json] of source.validResults) {
      g.setResults(key, JSON.parse(json) as ValidResultsDoc);
      if (g.drvs.strings.length > maxRows) return undefined;
    }
    for (const key of source.consumers()) {
      g.link(g.consumers, g.paths, key);
      if (g.consumers.size > maxRows) return undefined;
    }
    for (const key of source.unreported()) {
      g.link(g.unreported, g.drvs, key);
      if (g.unreported.size > maxRows) return undefined;
    }
    return g;
  }

  /**
   * A committed change of one of the three indexes. False when the graph can no longer follow (an
   * index row deleted, which the models never do, or past `maxRows`): drop it and load it anew.
   */
  apply(change: DocChange): boolean {
    this.built = undefined;
    switch (change.model) {
      case VALID_RESULTS:
        this.setResults(change.key, change.doc as ValidResultsDoc | undefined);
        return this.drvs.strings.length <= this.maxRows;
      case CONSUMERS:
        if (change.doc === undefined) return false;
        this.link(this.consumers, this.paths, change.key);
        return this.consumers.size <= this.maxRows;
      case UNREPORTED:
        if (change.doc === undefined) return false;
        this.link(this.unreported, this.drvs, change.key);
        return this.unreported.size <= this.maxRows;
      default:
        return true;
    }
  }

  /** The graph as it is now, laid out for planInvalidationCompact (built again only after a change). */
  graph(): InvalidationGraph {
    if (this.built) return this.built;
    const drvPaths = this.drvs.strings;
    const attempts = this.attempts.strings;
    const nDrvs = drvPaths.length;
    this.consumers.sort(this.paths.strings.length, drvPaths, attempts);
    this.unreported.sort(nDrvs, drvPaths, attempts);

    const serial = new Float64Array(nDrvs);
    const resultStart = new Int32Array(nDrvs + 1);
    const resultAttempt: string[] = [];
    const resultAttemptNumber: number[] = [];
    const outputStart: number[] = [0];
    const outputPath: number[] = [];
    let drvNumbersSorted = true;
    let previous: string | undefined;
    for (let d = 0; d < nDrvs; d++) {
      serial[d] = this.serials[d];
      resultStart[d] = resultAttempt.length;
      const results = this.results[d];
      if (!results || results.length === 0) continue;
      if (previous !== undefined && !(previous < drvPaths[d])) drvNumbersSorted = false;
      previous = drvPaths[d];
      for (const r of results) {
        resultAttempt.push(attempts[r.attempt]);
        resultAttemptNumber.push(r.attempt);
        for (const p of r.outputs) outputPath.push(p);
        outputStart.push(outputPath.length);
      }
    }
    resultStart[nDrvs] = resultAttempt.length;

    // each link to its drv's valid result of that attempt, or left out
    const resolve = (links: Links, groups: number) => {
      const start = new Int32Array(groups + 1);
      const drv = new Int32Array(links.drv.length);
      const result = new Int32Array(links.drv.length);
      let n = 0;
      for (let g = 0; g < groups; g++) {
        start[g] = n;
        for (let i = links.start[g], end = links.start[g + 1]; i < end; i++) {
          const d = links.drv[i];
          for (let r = resultStart[d], rEnd = resultStart[d + 1]; r < rEnd; r++) {
            if (resultAttemptNumber[r] === links.attempt[i]) {
              drv[n] = d;
              result[n++] = r;
              break;
            }
          }
        }
      }
      start[groups] = n;
      return { start, drv: drv.subarray(0, n), result: result.subarray(0, n) };
    };
    const consumers = resolve(this.consumers, this.paths.strings.length);
    const unreported = resolve(this.unreported, nDrvs);
    this.built = {
      drvPaths,
      drvNumbersSorted,
      drvNumber: (p) => this.drvs.find(p),
      storePathNumber: (p) => this.paths.find(p),
      storePaths: this.paths.strings,
      consumerStart: consumers.start,
      consumerDrv: consumers.drv,
      consumerResult: consumers.result,
      unreportedStart: unreported.start,
      unreportedDrv: unreported.drv,
      unreportedResult: unreported.result,
      serial,
      resultStart,
      resultAttempt,
      outputStart: Int32Array.from(outputStart),
      outputPath: Int32Array.from(outputPath),
    };
    return this.built;
  }

  private setResults(drvPath: string, doc: ValidResultsDoc | undefined): void {
    const d = this.numberDrv(drvPath, 0, drvPath.length);
    this.serials[d] = doc === undefined ? -1 : doc.serial;
    this.results[d] =
      doc === undefined
        ? undefined
        : Object.keys(doc.results).map((attemptId) => {
            const outputs = doc.results[attemptId].outputs;
            return {
              attempt: this.attempts.number(attemptId, 0, attemptId.length),
              outputs: Int32Array.from(
                Object.keys(outputs)
                  .sort()
                  .map((name) => this.paths.number(outputs[name], 0, outputs[name].length)),
              ),
            };
          });
  }

  /** The drv text[start, end) names, numbered now if new (without a document: serial -1, no results). */
  private numberDrv(text: string, start: number, end: number): number {
    const d = this.drvs.number(text, start, end);
    while (this.serials.length <= d) {
      this.serials.push(-1);
      this.results.push(undefined);
    }
    return d;
  }

  /** `<first> <drvPath> <attemptId>`, numbered without cutting the key apart */
  private link(links: Links, first: Numbering, key: string): void {
    const sep = key.indexOf(KEY_SEP);
    const second = key.indexOf(KEY_SEP, sep + 1);
    const group = first.number(key, 0, sep);
    const d = this.numberDrv(key, sep + 1, second);
    links.add(group, d, this.attempts.number(key, second + 1, key.length));
  }
}
