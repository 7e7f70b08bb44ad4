/**
 * The two policies as processors on the live log. Their decisions are the pure functions in
 * @buildgraph/domain (planInvalidation, groupPolicy); here they only read the read store and append.
 */
import {
  ATTEMPT_TRACE,
  BAD_PATHS,
  CONSUMERS,
  UNREPORTED,
  VALID_RESULTS,
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
  planInvalidationCompact,
  toStored,
  type AttemptRef,
  type AttemptTraceDoc,
  type BadPathDoc,
  type DomainEvent,
  type InvalidationGraph,
  type DrvEvent,
  type ResultPoisoned,
  type GroupEvent,
  type PolicyCommand,
  type ResultInvalidated,
  type ValidResultsDoc,
} from '@buildgraph/domain';
import {
  isEventStoreError,
  type EventData,
  type EventStore,
  type EventStoreError,
  type StreamAppend,
} from '@buildgraph/eventstore';
import { attemptTrace, consumersOf, group, openGroups, unreportedConsumersOf } from './queries';
import { PROJECTIONS, decodeEvent } from './models';
import type { DocChange, ReadStore } from './read-store';
import { ProjectionRunner, type Processor, type ProcessorContext } from './runner';
import { BulkDocs, PrefixIndex, loadInvalidationGraph } from './invalidation-graph';
import { LiveInvalidationGraph } from './live-invalidation-graph';

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
  /** seconds spent planning and appending the last poisoning, wall and process CPU (metrics, benchmarks) */
  last = { startedAt: 0n, planSeconds: 0, appendSeconds: 0, cpuSeconds: 0, events: 0 };

  /** the indexes the kept graph follows (runner: `committed`) */
  readonly watches = [VALID_RESULTS, CONSUMERS, UNREPORTED];
  /** the invalidation graph kept in memory, current with the read store's last commit */
  private live: LiveInvalidationGraph | undefined;
  private graphTooBig = false;
  /** loads of the kept graph, and the seconds the last one took (metrics, benchmarks) */
  graphLoads = 0;
  lastGraphLoadSeconds = 0;

  /**
   * `bulkAfter`: index lookups in one walk after which it walks the whole graph in memory instead.
   * `keepGraph` (default true): load that graph when the runner starts and keep it current commit by
   * commit (memory: ~120 bytes a link, a drv or a store path: ~70 MiB for 100k drvs), instead of
   * loading it for each large poisoning.
   * `maxRows`: an index larger than this is never held in memory; the walk seeks (PrefixIndex, BulkDocs).
   */
  constructor(private readonly opts: { bulkAfter?: number; keepGraph?: boolean; maxRows?: number } = {}) {}

  start(ctx: ProcessorContext): void {
    if (this.opts.keepGraph !== false) this.loadGraph(ctx);
  }

  committed(changes: readonly DocChange[]): void {
    if (!this.live) return;
    try {
      for (const change of changes) {
        // false: it cannot follow this change; loaded again when next needed
        if (!this.live.apply(change)) throw CANNOT_FOLLOW;
      }
    } catch {
      // the commit stands whatever happens here: the graph is rebuilt from it, never trusted stale
      this.live = undefined;
    }
  }

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
    const cpu = process.cpuUsage();
    // planned in its own call: the loaded indexes (~100 MB for a stdenv) can be collected while appending
    const levels = this.plan(event, ctx, only);
    const appending = process.hrtime.bigint();
    // one multi-stream append in topological order (level after level): SQLite commits it in one
    // large transaction per 100k, other stores append one by one in the same order. The events go as
    // planned (plain JSON data, no undefined fields): no toStored copy, and their one shared metadata
    // object stays shared (serialised once)
    const appends: StreamAppend[] = [];
    for (const level of levels)
      for (const e of level)
        appends.push({
          stream: drvStreamName(e.data.drvPath),
          events: [e as unknown as EventData],
          expected: 'any',
        });
    if (appends.length > 0) {
      const outcomes = await ctx.events.appendMany(appends);
      // 'any' and deterministic ids: only a store failure can refuse one; stop, and be retried
      const failed = outcomes.find((o): o is EventStoreError => o instanceof Error);
      if (failed) throw failed;
    }
    this.appended += appends.length;
    const done = process.hrtime.bigint();
    const used = process.cpuUsage(cpu);
    this.last = {
      startedAt: planned,
      planSeconds: Number(appending - planned) / 1e9,
      appendSeconds: Number(done - appending) / 1e9,
      cpuSeconds: (used.user + used.system) / 1e6,
      events: appends.length,
    };
  }

  private plan(event: ResultPoisoned, ctx: ProcessorContext, only?: AttemptRef): ResultInvalidated[][] {
    // most poisonings touch a few drvs: seek. Past `bulkAfter` lookups, stop and walk a numbered graph
    // loaded in one scan of each index instead (a stdenv: 100k drvs, 366k consumer links)
    const budget = this.opts.bulkAfter ?? 2000;
    let lookups = 0;
    const count = (): void => {
      if (++lookups > budget) throw TOO_MANY_LOOKUPS;
    };
    try {
      return planInvalidation(
        event,
        {
          validResults: (d) => (count(), ctx.docs.get<ValidResultsDoc>(VALID_RESULTS, d)),
          consumersOf: (p) => (count(), consumersOf(ctx.store, p)),
          unreportedConsumersOf: (d) => (count(), unreportedConsumersOf(ctx.store, d)),
        },
        only,
      );
    } catch (err) {
      if (err !== TOO_MANY_LOOKUPS) throw err;
    }
    let graph: InvalidationGraph | undefined;
    if (this.opts.keepGraph === false) graph = loadInvalidationGraph(ctx.store, this.opts.maxRows);
    else {
      if (!this.live && !this.graphTooBig) this.loadGraph(ctx);
      graph = this.live?.graph();
    }
    if (graph) return planInvalidationCompact(event, graph, only);
    // indexes too large to hold: seek, with the per-index bulk loads where they fit
    const consumers = new PrefixIndex(ctx.store, CONSUMERS, (p) => consumersOf(ctx.store, p), budget);
    const unreported = new PrefixIndex(
      ctx.store,
      UNREPORTED,
      (d) => unreportedConsumersOf(ctx.store, d),
      budget,
    );
    // the compact index, not drv-state: ~100 bytes to parse per drv instead of ~700
    const results = new BulkDocs<ValidResultsDoc>(
      ctx.store,
      VALID_RESULTS,
      (d) => ctx.docs.get<ValidResultsDoc>(VALID_RESULTS, d),
      budget,
    );
    return planInvalidation(
      event,
      {
        validResults: (d) => results.get(d),
        consumersOf: (p) => consumers.lookup(p),
        unreportedConsumersOf: (d) => unreported.lookup(d),
      },
      only,
    );
  }

  private loadGraph(ctx: ProcessorContext): void {
    const started = process.hrtime.bigint();
    this.live = LiveInvalidationGraph.load(ctx.store, this.opts.maxRows);
    this.graphLoads++;
    // the indexes only grow: once too big, always too big
    this.graphTooBig = this.live === undefined;
    this.lastGraphLoadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  }
}

const TOO_MANY_LOOKUPS = Symbol('too many lookups');
const CANNOT_FOLLOW = Symbol('the kept graph cannot follow this change');

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
