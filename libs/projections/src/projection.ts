/**
 * What a read model declares to the runtime. The runtime owns storage, batching, caching and the
 * checkpoint; a projection only says which documents an event touches and how each one changes.
 */

/** One read model. `E` is the decoded (upcast) domain event, `D` the document type. */
export interface Projection<E, D = unknown> {
  /** Stable name, also the read-model name in digests ('drv-state', 'graph', ...). */
  readonly name: string;
  /** Bump when evolve changes meaning: a store built by another version must be rebuilt, not resumed. */
  readonly version: number;
  /**
   * Index entries whose evolve ignores the previous document: the runtime neither loads it nor keeps
   * it cached after writing (consumers, referrers: a million small rows that are only ever scanned).
   */
  readonly blind?: boolean;
  /**
   * The document keys this event changes (may be empty). Called once per event. `docs` shows the
   * read models as they are after this event's earlier projections (list order), for derived indexes.
   */
  keys(event: E, docs: DocLookup): readonly string[];
  /**
   * Pure: the next document for `key`, or undefined to delete it. Return the same object to mean
   * "unchanged" (the runtime skips the write). Must not mutate `doc`.
   */
  evolve(doc: D | undefined, event: E, key: string, docs: DocLookup): D | undefined;
}

/** Read access to other documents (the runner's cache over the read store). */
export interface DocLookup {
  get<D = unknown>(model: string, key: string): D | undefined;
}
