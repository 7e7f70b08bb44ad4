/**
 * What the invalidation policy reads when a poisoning reaches far: the consumer and valid-results
 * indexes as a numbered graph (CSR arrays; built by LiveInvalidationGraph), or scanned once into
 * memory (PrefixIndex, BulkDocs) for indexes too big for that. The walk itself is
 * planInvalidationCompact in @buildgraph/domain.
 */
import { KEY_SEP, type AttemptRef, type InvalidationGraph } from '@buildgraph/domain';
import { LiveInvalidationGraph, type IndexRows } from './live-invalidation-graph';
import type { ReadStore } from './read-store';

/**
 * The valid-results, consumers and unreported-consumers indexes as one numbered graph (see
 * InvalidationGraph), from one ordered scan of each; undefined if an index has more than `maxRows` rows.
 */
export function loadInvalidationGraph(store: ReadStore, maxRows = 5_000_000): InvalidationGraph | undefined {
  return LiveInvalidationGraph.load(store, maxRows)?.graph();
}

/** loadInvalidationGraph from any source of rows: valid-results as [drvPath, json], index keys, each in key order. */
export function buildInvalidationGraph(
  source: IndexRows,
  maxRows = 5_000_000,
): InvalidationGraph | undefined {
  return LiveInvalidationGraph.fromRows(source, maxRows)?.graph();
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
