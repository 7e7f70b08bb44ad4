import type { EventStore, RecordedEvent, Subscription } from '@buildgraph/eventstore';
import { ProjectionError } from './errors';
import type { Projection } from './projection';
import { KeyFilter } from './key-filter';
import { type DocChange, type DocReader, ReadStore } from './read-store';
import { canonicalJson } from './canonical-json';
import { type SpillRuns, compareKeys, isWideKey, mergeNewestFirst } from './spill-runs';

/**
 * Applies the log to read models: reads batches (readAll to catch up, subscribe to follow), evolves
 * the touched documents in a write-back cache and commits the changed documents together with the
 * checkpoint. Processors (policies) see each event after the read models include its whole batch.
 */

/** A policy run on the live log. Must be idempotent: after a crash it sees events again. */
export interface Processor<E> {
  readonly name: string;
  handle(event: E, ctx: ProcessorContext): Promise<void>;
  /** Called every `tickMs` while the runner follows the log (deadlines). */
  tick?(ctx: ProcessorContext): Promise<void>;
  /** Called once when the runner starts following the log, before any event reaches `handle`. */
  start?(ctx: ProcessorContext): void;
  /** The read models whose committed changes `committed` receives. */
  readonly watches?: readonly string[];
  /**
   * After every commit of the read models (catching up or live), the documents of `watches` that it
   * changed (doc undefined: deleted), in key order per model; the commit includes checkpoint `position`.
   */
  committed?(changes: readonly DocChange[], position: bigint): void;
}

export interface ProcessorContext {
  /** Read models as of the end of the current batch (cached). */
  docs: DocReader;
  /** The same, for key-prefix scans (the batch is committed before processors run). */
  store: ReadStore;
  events: EventStore;
  /** Wall clock, injected so tests can move it. */
  now(): Date;
}

/** Events (or documents) that a projection could not apply: kept as a read model so they are visible and deterministic. */
export const REJECTED_MODEL = '$rejected';

export interface RunnerOptions<E> {
  events: EventStore;
  readStore: ReadStore;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- projections of different document types live side by side
  projections: readonly Projection<E, any>[];
  /** Stored event -> domain event (upcast); undefined for events no projection reads. */
  decode: (recorded: RecordedEvent) => E | undefined;
  processors?: readonly Processor<E>[];
  /** Checkpoint name (default 'projections'). */
  name?: string;
  /** Clean documents kept in memory after a commit (default 200k). */
  cacheSize?: number;
  /** Events applied between commits while catching up (default 20k); live batches commit each batch. */
  flushEvery?: number;
  batchSize?: number;
  /**
   * Replay into a fresh store: nothing is committed until the end of `catchUp`. When more than
   * `cacheSize` documents are in memory, the oldest half leave it as one sorted run in `spill`;
   * the end merges the runs and memory into the store in one sorted sweep (`loadSorted`).
   */
  spill?: SpillRuns;
  now?: () => Date;
  tickMs?: number;
}

/** A document on its way to a run or the store: undefined = deleted. */
type Row = [key: string, doc: unknown];

interface Entry {
  doc: unknown;
  dirty: boolean;
}

/** One model's documents in memory: a write-back cache, and the pending writes of a blind model. */
interface ModelCache {
  model: string;
  /** mixed into the key filter's hash so equal keys of different models differ */
  seed: number;
  entries: Map<string, Entry>;
  /**
   * keys of the entries made dirty since the last commit (outside spill mode): a flush reads these
   * instead of scanning a cache of up to `cacheSize` entries for a live batch's few changes
   */
  dirty: string[];
  blind: Map<string, unknown>;
  /** a blind projection's model: written without being loaded */
  isBlind: boolean;
}

/**
 * Events per live batch (one commit each) when the runner is behind: after a stdenv invalidation
 * (91k events at once) 1000 a batch meant 92 commits, each rewriting pages all over the read store.
 */
const LIVE_BATCH = 10_000;

export class ProjectionRunner<E> implements DocReader {
  private readonly models = new Map<string, ModelCache>();
  /** when the store started empty: which documents can possibly be in it */
  private readonly written: KeyFilter | undefined;
  private readonly projections: readonly Projection<E, unknown>[];
  private readonly caches: readonly ModelCache[];
  private readonly processors: readonly Processor<E>[];
  private readonly checkpointName: string;
  private readonly cacheSize: number;
  private readonly flushEvery: number;
  private readonly signature: string;
  private applied: bigint;
  private pending = 0;
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly ctx: ProcessorContext;
  private spill: SpillRuns | undefined;
  /** a key where UTF-16 order is not SQLite's was seen (spill mode) */
  private wide = false;
  /** the digests computed while the spill-mode build wrote the store */
  private built: Record<string, string> | undefined;

  constructor(private readonly opts: RunnerOptions<E>) {
    this.projections = opts.projections;
    this.processors = opts.processors ?? [];
    this.checkpointName = opts.name ?? 'projections';
    this.cacheSize = opts.cacheSize ?? 200_000;
    this.flushEvery = opts.flushEvery ?? 20_000;
    const names = this.projections.map((p) => `${p.name}@${p.version}`);
    if (
      new Set(this.projections.map((p) => p.name)).size !== names.length ||
      this.projections.some((p) => p.name === REJECTED_MODEL)
    ) {
      throw new ProjectionError('INVALID_ARGUMENT', `projection names must be unique: ${names.join(', ')}`);
    }
    this.caches = this.projections.map((p) => this.modelCache(p.name));
    this.projections.forEach((p, i) => (this.caches[i].isBlind = p.blind === true));
    this.signature = names.sort().join(',');
    this.applied = opts.readStore.checkpoint(this.checkpointName);
    const stored = opts.readStore.getMeta(`projections:${this.checkpointName}`);
    if (stored !== undefined && stored !== this.signature) {
      throw new ProjectionError(
        'READ_STORE_MISMATCH',
        `${opts.readStore.path} was built by projections ${stored}, this runner has ${this.signature}: rebuild it with replay`,
        { stored, expected: this.signature },
      );
    }
    this.spill = opts.spill;
    if (this.spill && (!opts.readStore.isEmpty() || this.applied !== 0n))
      throw new ProjectionError('INVALID_ARGUMENT', 'spill mode rebuilds into a fresh read store only');
    // spill mode knows exactly what was written (memory and the runs' index): no filter needed
    this.written = opts.readStore.isEmpty() && !this.spill ? new KeyFilter() : undefined;
    this.ctx = {
      docs: this,
      store: opts.readStore,
      events: opts.events,
      now: opts.now ?? (() => new Date()),
    };
  }

  private modelCache(model: string): ModelCache {
    let c = this.models.get(model);
    if (!c) {
      c = {
        model,
        seed: this.models.size + 1,
        entries: new Map(),
        dirty: [],
        blind: new Map(),
        isBlind: false,
      };
      this.models.set(model, c);
    }
    return c;
  }

  /** The last position whose effects are in the read models (committed or pending in the cache). */
  get position(): bigint {
    return this.applied;
  }

  get<D = unknown>(model: string, key: string): D | undefined {
    const c = this.modelCache(model);
    const hit = c.entries.get(key);
    if (hit !== undefined) return hit.doc as D;
    if (c.blind.has(key)) return c.blind.get(key) as D;
    const doc = this.load<D>(c, key);
    c.entries.set(key, { doc, dirty: false });
    return doc;
  }

  private load<D>(c: ModelCache, key: string): D | undefined {
    if (this.spill) {
      // blind models are never read back by the models: their rows are not indexed, only searched
      const json = c.isBlind ? this.spill.find(c.model, key) : this.spill.lookup(c.model, key);
      return json === undefined || json === null ? undefined : (JSON.parse(json) as D);
    }
    if (this.written && !this.written.mayContain(c.seed, key)) return undefined;
    return this.opts.readStore.get<D>(c.model, key);
  }

  /** Evolves the cached documents by a batch (positions must follow the checkpoint). Not yet committed. */
  apply(batch: readonly RecordedEvent[]): void {
    for (const recorded of batch) {
      if (recorded.position <= this.applied) continue; // already applied: at-most-once per position
      let event: E | undefined;
      try {
        event = this.opts.decode(recorded);
      } catch (err) {
        this.reject(recorded, 'decode', err);
      }
      if (event !== undefined) {
        for (let i = 0; i < this.projections.length; i++)
          this.applyOne(this.projections[i], this.caches[i], event, recorded);
      }
      this.applied = recorded.position;
      this.pending++;
    }
  }

  private applyOne(p: Projection<E, unknown>, c: ModelCache, event: E, recorded: RecordedEvent): void {
    let keys: readonly string[];
    try {
      keys = p.keys(event, this);
    } catch (err) {
      this.reject(recorded, p.name, err);
      return;
    }
    for (const key of keys) {
      if (p.blind) {
        try {
          c.blind.set(key, p.evolve(undefined, event, key, this));
        } catch (err) {
          this.reject(recorded, p.name, err);
        }
        continue;
      }
      let entry = c.entries.get(key);
      if (entry === undefined) {
        entry = { doc: this.load(c, key), dirty: false };
        c.entries.set(key, entry);
      }
      let next: unknown;
      try {
        next = p.evolve(entry.doc, event, key, this);
      } catch (err) {
        this.reject(recorded, p.name, err);
        continue;
      }
      if (next !== entry.doc) {
        entry.doc = next;
        if (!entry.dirty && !this.spill) c.dirty.push(key);
        entry.dirty = true;
      }
    }
  }

  private reject(recorded: RecordedEvent, by: string, err: unknown): void {
    const key = `${recorded.position.toString().padStart(20, '0')}:${by}`;
    const doc = {
      position: recorded.position.toString(),
      stream: recorded.stream,
      type: recorded.type,
      id: recorded.id,
      by,
      message: (err as Error)?.message ?? String(err),
    };
    const c = this.modelCache(REJECTED_MODEL);
    if (!this.spill && c.entries.get(key)?.dirty !== true) c.dirty.push(key);
    c.entries.set(key, { doc, dirty: true });
  }

  /** Commits the dirty documents and the checkpoint in one transaction, then trims the cache. */
  flush(): void {
    if (this.spill) {
      this.build(this.spill);
      return;
    }
    this.built = undefined;
    // in key order: each model's rows go into the b-tree as a sweep over neighbouring pages, not at
    // random; and streamed into the transaction, so a large flush holds no second copy of its rows
    const sorted = [...this.models.values()].map((c) => {
      const keys: string[] = [...c.blind.keys(), ...c.dirty];
      return { c, keys: keys.sort() };
    });
    const written = this.written;
    function* changes(): Generator<DocChange> {
      for (const { c, keys } of sorted) {
        for (const key of keys) {
          written?.add(c.seed, key);
          const entry = c.entries.get(key);
          yield { model: c.model, key, doc: entry !== undefined ? entry.doc : c.blind.get(key) };
        }
      }
    }
    try {
      this.opts.readStore.commit(
        changes(),
        { [this.checkpointName]: this.applied },
        { [`projections:${this.checkpointName}`]: this.signature },
      );
    } catch (err) {
      // The cache is ahead of the file now: forget it, and the checkpoint decides where to resume.
      for (const c of this.models.values()) {
        c.entries.clear();
        c.dirty = [];
        c.blind.clear();
      }
      this.applied = this.opts.readStore.checkpoint(this.checkpointName);
      this.pending = 0;
      throw err;
    }
    this.pending = 0;
    this.notifyCommitted(sorted);
    let size = 0;
    for (const c of this.models.values()) {
      c.blind.clear();
      for (const key of c.dirty) c.entries.get(key)!.dirty = false;
      c.dirty = [];
      size += c.entries.size;
    }
    // trim: drop the oldest clean entries, proportionally from each model
    if (size > this.cacheSize) {
      const keep = this.cacheSize / size;
      for (const c of this.models.values()) {
        let excess = c.entries.size - Math.floor(c.entries.size * keep);
        for (const key of c.entries.keys()) {
          if (excess-- <= 0) break;
          c.entries.delete(key);
        }
      }
    }
  }

  /** Tells the processors that watch a model what the last commit changed in it. */
  private notifyCommitted(sorted: readonly { c: ModelCache; keys: readonly string[] }[]): void {
    for (const p of this.processors) {
      if (!p.committed || !p.watches) continue;
      const changes: DocChange[] = [];
      for (const { c, keys } of sorted) {
        if (!p.watches.includes(c.model)) continue;
        for (const key of keys) {
          const entry = c.entries.get(key);
          changes.push({ model: c.model, key, doc: entry !== undefined ? entry.doc : c.blind.get(key) });
        }
      }
      p.committed(changes, this.applied);
    }
  }

  /** Spill mode: once more than cacheSize documents are in memory, the oldest half leave as one run. */
  private spillIfFull(spill: SpillRuns): void {
    let size = 0;
    for (const c of this.models.values()) size += c.entries.size + c.blind.size;
    if (size <= this.cacheSize) return;
    const keep = this.cacheSize / 2 / size;
    const out: { c: ModelCache; rows: Row[] }[] = [];
    for (const c of this.sortedModels()) {
      const rows: Row[] = [...c.blind];
      c.blind.clear();
      let excess = c.entries.size - Math.floor(c.entries.size * keep);
      for (const [key, entry] of c.entries) {
        if (excess-- <= 0) break;
        c.entries.delete(key);
        // a clean entry is unchanged since it was loaded: its spilled row still has it
        if (entry.dirty) rows.push([key, entry.doc]);
      }
      this.sortRows(rows);
      out.push({ c, rows });
    }
    // serialised as they are written: holding them all as strings would double the heap
    spill.write(
      (function* () {
        for (const { c, rows } of out)
          for (const [key, doc] of rows)
            yield [c.model, key, doc === undefined ? null : canonicalJson(doc), !c.isBlind] as const;
      })(),
    );
  }

  private sortedModels(): ModelCache[] {
    return [...this.models.values()].sort((a, b) => compareKeys(a.model, b.model));
  }

  /** Sorts rows by key in SQLite's order. */
  private sortRows(rows: Row[]): void {
    if (!this.wide && rows.some(([key]) => isWideKey(key))) this.wide = true;
    if (this.wide) rows.sort((a, b) => compareKeys(a[0], b[0]));
    else rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Spill mode's end: runs and memory merged into the fresh store, newest first, in one sweep. */
  private build(spill: SpillRuns): void {
    const memory = this.sortedModels().map((c) => {
      const rows: Row[] = [...c.blind];
      for (const [key, entry] of c.entries) if (entry.dirty) rows.push([key, entry.doc]);
      this.sortRows(rows);
      return { c, rows };
    });
    const wide = this.wide;
    function* serialised(rows: Row[]): Generator<[string, string | null]> {
      for (const [key, doc] of rows) yield [key, doc === undefined ? null : canonicalJson(doc)];
    }
    function* merged(): Generator<readonly [string, string, string]> {
      for (const { c, rows } of memory) {
        const sources = [serialised(rows), ...spill.scans(c.model)];
        for (const [key, json] of mergeNewestFirst(sources, wide)) yield [c.model, key, json];
      }
    }
    this.built = this.opts.readStore.loadSorted(
      merged(),
      { [this.checkpointName]: this.applied },
      { [`projections:${this.checkpointName}`]: this.signature },
    );
    // from here on an ordinary runner over a filled store
    this.spill = undefined;
    this.pending = 0;
    for (const c of this.models.values()) {
      c.blind.clear();
      for (const [key, entry] of c.entries) {
        if (entry.dirty && entry.doc === undefined) c.entries.delete(key);
        else entry.dirty = false;
      }
    }
  }

  /** The digests of the store as spill mode's build wrote it (undefined when not built that way). */
  get builtDigests(): Record<string, string> | undefined {
    return this.built;
  }

  /**
   * Applies the log from the checkpoint up to `to` (default: the head when called), committing every
   * `flushEvery` events. Processors are not run: catching up rebuilds state, it does not react.
   */
  async catchUp(
    opts: {
      to?: bigint;
      /** stop before the first event for which this is true (replay to a time) */
      stopBefore?: (recorded: RecordedEvent) => boolean;
      /** sees every event read, before it is applied (audits) */
      onBatch?: (batch: readonly RecordedEvent[]) => void;
      onProgress?: (position: bigint, events: number) => void;
    } = {},
  ): Promise<bigint> {
    const to = opts.to ?? (await this.opts.events.headPosition());
    let events = 0;
    if (this.applied < to) {
      for await (let batch of this.opts.events.readAll({
        from: this.applied,
        to,
        batchSize: this.opts.batchSize ?? 2000,
      })) {
        let stop = false;
        if (opts.stopBefore) {
          const i = batch.findIndex(opts.stopBefore);
          if (i >= 0) {
            batch = batch.slice(0, i);
            stop = true;
          }
        }
        opts.onBatch?.(batch);
        this.apply(batch);
        events += batch.length;
        if (this.spill) this.spillIfFull(this.spill);
        else if (this.pending >= this.flushEvery) this.flush();
        opts.onProgress?.(this.applied, events);
        if (stop) break;
      }
    }
    this.flush();
    return this.applied;
  }

  /**
   * Follows the log live: catches processors up to the read models (they may lag after a crash),
   * then subscribes from the checkpoint, committing each batch before the processors see it.
   */
  async start(): Promise<void> {
    if (this.subscription) throw new ProjectionError('INVALID_ARGUMENT', 'runner already started');
    for (const p of this.processors) p.start?.(this.ctx);
    for (const p of this.processors) {
      const from = this.opts.readStore.checkpoint(`processor:${p.name}`);
      if (from >= this.applied) continue;
      for await (const batch of this.opts.events.readAll({ from, to: this.applied }))
        await this.process(batch, [p]);
    }
    this.subscription = this.opts.events.subscribe(
      { from: this.applied, batchSize: this.opts.batchSize ?? LIVE_BATCH },
      async (batch) => {
        this.apply(batch);
        this.flush();
        await this.process(batch, this.processors);
      },
    );
    if (this.opts.tickMs && this.processors.some((p) => p.tick)) {
      this.timer = setInterval(() => void this.tick(), this.opts.tickMs);
      this.timer.unref();
    }
  }

  /** Settles when the live subscription ends (rejects on a store or processor failure). */
  get done(): Promise<void> {
    return this.subscription?.done ?? Promise.resolve();
  }

  private async process(batch: readonly RecordedEvent[], processors: readonly Processor<E>[]): Promise<void> {
    if (batch.length === 0 || processors.length === 0) return;
    for (const recorded of batch) {
      let event: E | undefined;
      try {
        event = this.opts.decode(recorded);
      } catch {
        continue; // already recorded as rejected by apply
      }
      if (event === undefined) continue;
      for (const p of processors) await p.handle(event, this.ctx);
    }
    const last = batch[batch.length - 1].position;
    const checkpoints: Record<string, bigint> = {};
    for (const p of processors) checkpoints[`processor:${p.name}`] = last;
    this.opts.readStore.commit([], checkpoints);
  }

  private ticking = false;
  /** Runs every processor's tick once (also called by the timer). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const p of this.processors) await p.tick?.(this.ctx);
    } finally {
      this.ticking = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.subscription?.close();
    this.subscription = undefined;
  }
}
