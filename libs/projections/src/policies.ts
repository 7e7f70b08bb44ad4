/**
 * The two policies as processors on the live log. Their decisions are the pure functions in
 * @buildgraph/domain (planInvalidation, groupPolicy); here they only read the read store and append.
 */
import {
  ATTEMPT_TRACE,
  BAD_PATHS,
  CONSUMERS,
  DRV_STATE,
  KEY_SEP,
  UNREPORTED,
  decideDrv,
  decideGroup,
  drvStreamName,
  evolveDrv,
  evolveGroup,
  expiredGroups,
  fromStored,
  groupPolicy,
  groupStreamName,
  initialDrvState,
  initialGroupState,
  attemptKey,
  lateInvalidationRoots,
  planInvalidation,
  toStored,
  type AttemptRef,
  type AttemptTraceDoc,
  type BadPathDoc,
  type DomainEvent,
  type DrvEvent,
  type DrvStateDoc,
  type ResultInvalidated,
  type ResultPoisoned,
  type GroupEvent,
  type PolicyCommand,
} from '@buildgraph/domain';
import { SqliteEventStore, isEventStoreError, type EventStore } from '@buildgraph/eventstore';
import { attemptTrace, consumersOf, group, openGroups, unreportedConsumersOf } from './queries';
import { PROJECTIONS, decodeEvent } from './models';
import type { ReadStore } from './read-store';
import { ProjectionRunner, type Processor, type ProcessorContext } from './runner';

export type PolicyLog = (message: string, details?: Record<string, unknown>) => void;

/**
 * On ResultPoisoned: plan the invalidations from the build trace and append them in topological
 * order (see invalidate). On AttemptSucceeded: invalidate it if it consumed a path condemned before
 * it was recorded (bad-paths). Ids are deterministic: replicas dedupe.
 */
export class InvalidationPolicy implements Processor<DomainEvent> {
  readonly name = 'invalidation';
  /** ResultInvalidated events appended (or found already appended) since start. */
  appended = 0;
  /** seconds spent planning and appending the last poisoning (for metrics and benchmarks) */
  last = { startedAt: 0n, planSeconds: 0, appendSeconds: 0, events: 0 };

  /** `bulkAfter`: index lookups in one walk after which the whole index is scanned once instead (PrefixIndex). */
  constructor(private readonly opts: { bulkAfter?: number } = {}) {}

  async handle(event: DomainEvent, ctx: ProcessorContext): Promise<void> {
    if (event.type === 'ResultPoisoned') return this.invalidate(event, ctx);
    if (event.type !== 'AttemptSucceeded') return;
    // a result built on a path condemned before it existed
    const inputs =
      event.data.inputRealisations ??
      ctx.docs.get<AttemptTraceDoc>(ATTEMPT_TRACE, attemptKey(event.data.drvPath, event.data.attemptId))
        ?.inputRealisations;
    const late = { drvPath: event.data.drvPath, attemptId: event.data.attemptId };
    for (const root of lateInvalidationRoots(event, inputs, (p) => ctx.docs.get<BadPathDoc>(BAD_PATHS, p)))
      await this.invalidate(root, ctx, late);
  }

  private async invalidate(event: ResultPoisoned, ctx: ProcessorContext, only?: AttemptRef): Promise<void> {
    const planned = process.hrtime.bigint();
    const consumers = new PrefixIndex(
      ctx.store,
      CONSUMERS,
      (p) => consumersOf(ctx.store, p),
      this.opts.bulkAfter,
    );
    const unreported = new PrefixIndex(
      ctx.store,
      UNREPORTED,
      (d) => unreportedConsumersOf(ctx.store, d),
      this.opts.bulkAfter,
    );
    const states = new BulkDocs<DrvStateDoc>(
      ctx.store,
      DRV_STATE,
      (d) => ctx.docs.get<DrvStateDoc>(DRV_STATE, d),
      this.opts.bulkAfter,
    );
    const levels = planInvalidation(
      event,
      {
        drvState: (d) => states.get(d),
        consumersOf: (p) => consumers.lookup(p),
        unreportedConsumersOf: (d) => unreported.lookup(d),
      },
      only,
    );
    const appending = process.hrtime.bigint();
    let events = 0;
    // built by the plan from plain JSON data: no undefined fields, so no toStored round trip
    const append = (e: ResultInvalidated) =>
      ctx.events.append(
        drvStreamName(e.data.drvPath),
        [{ id: e.id, type: e.type, data: e.data, metadata: { ...e.metadata } }],
        'any',
      );
    if (ctx.events instanceof SqliteEventStore) {
      // the SQLite store commits concurrent appends in arrival order (docs/eventstore.md, group
      // commit): issued level by level in one go, they land in topological order, in a few commits
      const all = levels.flat();
      events = all.length;
      await Promise.all(all.map(append));
      this.appended += all.length;
    } else {
      // elsewhere concurrent appends may land in any order: each level waits for the one before
      for (const level of levels) {
        events += level.length;
        await Promise.all(level.map(append));
        this.appended += level.length;
      }
    }
    const done = process.hrtime.bigint();
    this.last = {
      startedAt: planned,
      planSeconds: Number(appending - planned) / 1e9,
      appendSeconds: Number(done - appending) / 1e9,
      events,
    };
  }
}

/**
 * Lookups by the first part of an index key (`<a> <drvPath> <attemptId>`). A walk that needs many
 * of them (a stdenv poisoning: ~100k) is cheaper with one ordered scan of the whole index than with
 * as many B-tree seeks, so after `threshold` lookups the index is loaded into memory, unless it has
 * more than `maxRows` rows (then it keeps seeking).
 */
export class PrefixIndex {
  private calls = 0;
  private loaded: Map<string, AttemptRef[]> | undefined;
  private tooBig = false;

  constructor(
    private readonly store: ReadStore,
    private readonly model: string,
    private readonly seek: (prefix: string) => AttemptRef[],
    private readonly threshold = 2000,
    private readonly maxRows = 5_000_000,
  ) {}

  lookup(prefix: string): AttemptRef[] {
    if (this.loaded) return this.loaded.get(prefix) ?? [];
    if (++this.calls >= this.threshold && !this.tooBig) {
      this.loaded = this.load();
      if (this.loaded) return this.loaded.get(prefix) ?? [];
    }
    return this.seek(prefix);
  }

  private load(): Map<string, AttemptRef[]> | undefined {
    const map = new Map<string, AttemptRef[]>();
    let rows = 0;
    for (const key of this.store.allKeys(this.model)) {
      if (++rows > this.maxRows) {
        this.tooBig = true;
        return undefined;
      }
      // `<a> <drvPath> <attemptId>` cut by hand: split's array per row is most of the load's cost
      const first = key.indexOf(KEY_SEP);
      const second = key.indexOf(KEY_SEP, first + 1);
      const prefix = key.slice(0, first);
      const ref = { drvPath: key.slice(first + 1, second), attemptId: key.slice(second + 1) };
      const refs = map.get(prefix);
      if (refs) refs.push(ref);
      else map.set(prefix, [ref]);
    }
    return map;
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

/** Runs a command against its aggregate: read the stream, decide, append at the revision read; retry on a race. */
export async function executeCommand(
  events: EventStore,
  cmd: PolicyCommand,
  log: PolicyLog = () => {},
): Promise<DomainEvent[]> {
  const stream = cmd.aggregate === 'drv' ? drvStreamName(cmd.id) : groupStreamName(cmd.id);
  for (let attempt = 0; attempt < 5; attempt++) {
    const recorded = await events.readStream(stream);
    const history = recorded.map((r) => fromStored(r));
    const decided =
      cmd.aggregate === 'drv'
        ? decideDrv(cmd.command, (history as DrvEvent[]).reduce(evolveDrv, initialDrvState()))
        : decideGroup(cmd.command, (history as GroupEvent[]).reduce(evolveGroup, initialGroupState()));
    if (!decided.ok) {
      log(`policy command ${cmd.command.type} on ${stream} refused: ${decided.error.message}`, {
        code: decided.error.code,
      });
      return [];
    }
    const out = decided.value.events as DomainEvent[];
    if (out.length === 0) return [];
    const expected = recorded.length === 0 ? 'no-stream' : recorded[recorded.length - 1].revision;
    try {
      await events.append(stream, out.map(toStored), expected);
      return out;
    } catch (err) {
      if (!isEventStoreError(err, 'WRONG_EXPECTED_REVISION')) throw err;
    }
  }
  log(
    `policy command ${cmd.command.type} on ${stream} lost 5 races in a row; giving up until the next event`,
  );
  return [];
}

/** Reports member outcomes to groups, poisons the succeeded members of a failed group, expires deadlines. */
export class GroupPolicy implements Processor<DomainEvent> {
  readonly name = 'group';
  constructor(private readonly log: PolicyLog = () => {}) {}

  async handle(event: DomainEvent, ctx: ProcessorContext): Promise<void> {
    const commands = groupPolicy(event, {
      groupOfAttempt: (d, a) => attemptTrace(ctx.store, d, a)?.groupId,
      group: (g) => group(ctx.store, g),
    });
    for (const cmd of commands) await executeCommand(ctx.events, cmd, this.log);
  }

  async tick(ctx: ProcessorContext): Promise<void> {
    for (const cmd of expiredGroups(openGroups(ctx.store), ctx.now()))
      await executeCommand(ctx.events, cmd, this.log);
  }
}

/**
 * The service's runner: every read model, and (unless `policies: false`) both policies, following the
 * log live once `start()` is called. Deadlines are checked every `tickMs` (default 30 s).
 */
export function serviceRunner(opts: {
  events: EventStore;
  readStore: ReadStore;
  policies?: boolean;
  now?: () => Date;
  tickMs?: number;
  log?: PolicyLog;
}): ProjectionRunner<DomainEvent> {
  const processors = opts.policies === false ? [] : [new InvalidationPolicy(), new GroupPolicy(opts.log)];
  return new ProjectionRunner({
    events: opts.events,
    readStore: opts.readStore,
    projections: PROJECTIONS,
    decode: decodeEvent,
    processors,
    now: opts.now,
    tickMs: opts.tickMs ?? 30_000,
  });
}
