/**
 * What the invalidation policy reads when a poisoning reaches far: the consumer and valid-results
 * indexes loaded once as a numbered graph (CSR arrays), or scanned once into memory (PrefixIndex,
 * BulkDocs) for indexes too big for that. The walk itself is planInvalidationCompact in @buildgraph/domain.
 */
import {
  CONSUMERS,
  KEY_SEP,
  UNREPORTED,
  VALID_RESULTS,
  type AttemptRef,
  type InvalidationGraph,
  type ValidResultsDoc,
} from '@buildgraph/domain';
import type { ReadStore } from './read-store';

/**
 * Strings numbered in the order first seen, looked up by a slice of a larger string without cutting
 * it out (an index key holds three parts): an open-addressing table over an FNV-1a hash of the
 * UTF-16 units, each hit checked against the stored string. A Map keyed by freshly cut strings cost
 * a cut, a hash and young-generation garbage per key (366k for a stdenv).
 */
export class Numbering {
  readonly strings: string[] = [];
  private hashes = new Int32Array(0);
  private table = new Int32Array(1 << 10).fill(-1);
  private mask = (1 << 10) - 1;

  /** the number of text[start, end), numbered now if new */
  number(text: string, start: number, end: number): number {
    const h = hashOf(text, start, end);
    const len = end - start;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.table[slot];
      if (n < 0) {
        const id = this.strings.length;
        this.strings.push(start === 0 && end === text.length ? text : text.slice(start, end));
        if (id >= this.hashes.length) {
          const grown = new Int32Array(Math.max(1024, this.hashes.length * 2));
          grown.set(this.hashes);
          this.hashes = grown;
        }
        this.hashes[id] = h;
        this.table[slot] = id;
        if ((id + 1) * 2 > this.table.length) this.grow();
        return id;
      }
      if (this.hashes[n] === h) {
        const known = this.strings[n];
        if (known.length === len && text.startsWith(known, start)) return n;
      }
    }
  }

  /** the number of text[start, end), or -1 */
  find(text: string, start = 0, end = text.length): number {
    const h = hashOf(text, start, end);
    const len = end - start;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.table[slot];
      if (n < 0) return -1;
      if (this.hashes[n] === h) {
        const known = this.strings[n];
        if (known.length === len && text.startsWith(known, start)) return n;
      }
    }
  }

  private grow(): void {
    const size = this.table.length * 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let id = 0; id < this.strings.length; id++) {
      let slot = this.hashes[id] & this.mask;
      while (this.table[slot] >= 0) slot = (slot + 1) & this.mask;
      this.table[slot] = id;
    }
  }
}

/**
 * FNV-1a over at most 16 UTF-16 units of text[start, end): for a store path, from its hash part (past
 * `/nix/store/`), which is what tells paths apart. Any other string hashes as well, if less evenly;
 * equality is always checked on the whole string.
 */
function hashOf(text: string, start: number, end: number): number {
  const from = end - start > 27 ? start + 11 : start;
  const to = Math.min(end, from + 16);
  let h = 0x811c9dc5 | 0;
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h ^ (end - start);
}

/**
 * The valid-results, consumers and unreported-consumers indexes as one numbered graph (see
 * InvalidationGraph), from one ordered scan of each; undefined if an index has more than `maxRows`
 * rows. Drvs with valid results are numbered first, in key order.
 */
export function loadInvalidationGraph(store: ReadStore, maxRows = 5_000_000): InvalidationGraph | undefined {
  return buildInvalidationGraph(
    {
      validResults: store.allRows(VALID_RESULTS),
      consumers: () => store.allKeys(CONSUMERS),
      unreported: () => store.allKeys(UNREPORTED),
    },
    maxRows,
  );
}

/** loadInvalidationGraph from any source of rows: valid-results as [drvPath, json], index keys, each in key order. */
export function buildInvalidationGraph(
  source: {
    validResults: Iterable<[string, string]>;
    consumers: () => Iterable<string>;
    unreported: () => Iterable<string>;
  },
  maxRows = 5_000_000,
): InvalidationGraph | undefined {
  const drvs = new Numbering();
  const drvPaths = drvs.strings;
  const paths = new Numbering();
  const storePaths = paths.strings;

  const serials: number[] = [];
  const resultStart: number[] = [0];
  const resultAttempt: string[] = [];
  const outputStart: number[] = [0];
  const outputPath: number[] = [];
  let drvNumbersSorted = true;
  let previous = '';
  for (const [key, json] of source.validResults) {
    if (drvPaths.length >= maxRows) return undefined;
    if (drvPaths.length > 0 && !(previous < key)) drvNumbersSorted = false;
    previous = key;
    drvs.number(key, 0, key.length);
    const doc = JSON.parse(json) as ValidResultsDoc;
    serials.push(doc.serial);
    for (const attemptId in doc.results) {
      resultAttempt.push(attemptId);
      const outputs = doc.results[attemptId].outputs;
      for (const name of Object.keys(outputs).sort()) outputPath.push(paths.number(outputs[name], 0, outputs[name].length));
      outputStart.push(outputPath.length);
    }
    resultStart.push(resultAttempt.length);
  }
  const withResults = drvPaths.length;

  // `<first> <drvPath> <attemptId>` keys, grouped by their first part (numbered by `first`)
  // `<first> <drvPath> <attemptId>` keys, in JavaScript order (as the seeking walk sees them),
  // grouped by their first part (numbered by `first`); each link resolved to its drv's valid result,
  // or left out. Streamed: the keys are not kept
  const links = (rows: Iterable<string>, first: Numbering) => {
    const groupOf: number[] = [];
    const drv: number[] = [];
    const result: number[] = [];
    let rows_ = 0;
    let group = -1;
    let prefix = '';
    let previous = '';
    for (const key of rows) {
      if (++rows_ > maxRows) return undefined;
      // SQLite orders by UTF-8 bytes, JavaScript by UTF-16 units: the same for ASCII; should a key
      // ever differ, the caller sorts the JavaScript way
      if (!(previous < key) && rows_ > 1) return 'unsorted' as const;
      previous = key;
      if (group < 0 || !key.startsWith(prefix)) {
        const sep = key.indexOf(KEY_SEP);
        prefix = key.slice(0, sep + 1);
        group = first.number(key, 0, sep);
      }
      const second = key.indexOf(KEY_SEP, prefix.length);
      const d = drvs.find(key, prefix.length, second);
      if (d < 0 || d >= withResults) continue;
      const attemptStart = second + 1;
      const attemptLength = key.length - attemptStart;
      for (let r = resultStart[d], end = resultStart[d + 1]; r < end; r++) {
        const a = resultAttempt[r];
        if (a.length === attemptLength && key.startsWith(a, attemptStart)) {
          groupOf.push(group);
          drv.push(d);
          result.push(r);
          break;
        }
      }
    }
    return { groupOf, drv, result };
  };
  const sortedLinks = (rows: () => Iterable<string>, first: Numbering) => {
    const l = links(rows(), first);
    return l === 'unsorted' ? links([...rows()].sort(), first) : l;
  };
  // CSR over `n` nodes, keeping the keys' order within a node
  const csr = (l: { groupOf: number[]; drv: number[]; result: number[] }, n: number) => {
    const start = new Int32Array(n + 1);
    for (let i = 0; i < l.groupOf.length; i++) start[l.groupOf[i] + 1]++;
    for (let i = 0; i < n; i++) start[i + 1] += start[i];
    const at = start.slice(0, n);
    const drv = new Int32Array(l.groupOf.length);
    const result = new Int32Array(l.groupOf.length);
    for (let i = 0; i < l.groupOf.length; i++) {
      const j = at[l.groupOf[i]]++;
      drv[j] = l.drv[i];
      result[j] = l.result[i];
    }
    return { start, drv, result };
  };
  const consumerLinks = sortedLinks(source.consumers, paths);
  if (!consumerLinks || consumerLinks === 'unsorted') return undefined;
  const unreportedLinks = sortedLinks(source.unreported, drvs);
  if (!unreportedLinks || unreportedLinks === 'unsorted') return undefined;
  const consumers = csr(consumerLinks, storePaths.length);
  const unreported = csr(unreportedLinks, drvPaths.length);

  const nDrvs = drvPaths.length;
  const serial = new Float64Array(nDrvs).fill(-1);
  for (let i = 0; i < withResults; i++) serial[i] = serials[i];
  const starts = new Int32Array(nDrvs + 1).fill(resultAttempt.length);
  starts.set(resultStart);
  return {
    drvPaths,
    drvNumbersSorted,
    drvNumber: (d) => drvs.find(d),
    storePathNumber: (p) => paths.find(p),
    storePaths,
    consumerStart: consumers.start,
    consumerDrv: consumers.drv,
    consumerResult: consumers.result,
    unreportedStart: unreported.start,
    unreportedDrv: unreported.drv,
    unreportedResult: unreported.result,
    serial,
    resultStart: starts,
    resultAttempt,
    outputStart: Int32Array.from(outputStart),
    outputPath: Int32Array.from(outputPath),
  };
}

/**
 * Lookups by the first part of an index key (`<a> <drvPath> <attemptId>`). A walk that needs many
 * of them (a stdenv poisoning: ~100k) is cheaper with one ordered scan of the whole index than with
 * as many B-tree seeks, so after `threshold` lookups the index's keys are loaded into memory, unless
 * it has more than `maxRows` rows (then it keeps seeking). Loaded, they stay one sorted array of
 * strings, binary-searched: cutting 400k keys into a Map of refs cost more than the lookups.
 */
export class PrefixIndex {
  private calls = 0;
  private loaded: string[] | undefined;
  private tooBig = false;

  constructor(
    private readonly store: ReadStore,
    private readonly model: string,
    private readonly seek: (prefix: string) => AttemptRef[],
    private readonly threshold = 2000,
    private readonly maxRows = 5_000_000,
  ) {}

  lookup(prefix: string): AttemptRef[] {
    if (!this.loaded && ++this.calls >= this.threshold && !this.tooBig) this.loaded = this.load();
    if (!this.loaded) return this.seek(prefix);
    const keys = this.loaded;
    const start = prefix + KEY_SEP;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    const refs: AttemptRef[] = [];
    for (let i = lo; i < keys.length && keys[i].startsWith(start); i++) {
      const key = keys[i];
      const second = key.indexOf(KEY_SEP, start.length);
      refs.push({ drvPath: key.slice(start.length, second), attemptId: key.slice(second + 1) });
    }
    return refs;
  }

  private load(): string[] | undefined {
    const keys: string[] = [];
    for (const key of this.store.allKeys(this.model)) {
      if (keys.length >= this.maxRows) {
        this.tooBig = true;
        return undefined;
      }
      keys.push(key);
    }
    // SQLite orders by UTF-8 bytes, JavaScript by UTF-16 units: the same for the ASCII of store paths
    // and attempt ids; should a key ever differ, sort the JavaScript way rather than search wrongly
    for (let i = 1; i < keys.length; i++) if (keys[i - 1] > keys[i]) return keys.sort();
    return keys;
  }
}

/**
 * Document lookups for one walk: after `threshold` of them, one ordered scan loads the whole model's
 * JSON (parsed on demand), unless it has more than `maxRows` documents. The store is current when
 * processors run (the batch is committed first), so the scan sees what the cache would.
 */
export class BulkDocs<D> {
  private calls = 0;
  private loaded: Map<string, string> | undefined;
  private tooBig = false;

  constructor(
    private readonly store: ReadStore,
    private readonly model: string,
    private readonly fetch: (key: string) => D | undefined,
    private readonly threshold = 2000,
    private readonly maxRows = 1_000_000,
  ) {}

  get(key: string): D | undefined {
    if (!this.loaded && ++this.calls >= this.threshold && !this.tooBig) this.loaded = this.load();
    if (!this.loaded) return this.fetch(key);
    const json = this.loaded.get(key);
    return json === undefined ? undefined : (JSON.parse(json) as D);
  }

  private load(): Map<string, string> | undefined {
    const map = new Map<string, string>();
    for (const [key, json] of this.store.allRows(this.model)) {
      if (map.size >= this.maxRows) {
        this.tooBig = true;
        return undefined;
      }
      map.set(key, json);
    }
    return map;
  }
}
