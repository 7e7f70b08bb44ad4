/**
 * A realistic, deterministic build-farm history (same seed, same events, byte for byte), streamed so a
 * million events never sit in memory at once. The graph (history-graph.ts) is nixpkgs-shaped: a bootstrap chain ending in a
 * stdenv-like root that nearly every package uses, ~30 levels deep, inputs chosen with preferential
 * attachment (power-law fan-in), fixed-output sources, a few floating content-addressed packages near
 * the top (their dependents become deferred and are resolved per attempt), multi-output packages.
 * Farms then build it in evaluation chunks: successes, transient failures retried with backoff,
 * permanent failures (some cleared and retried), dependency failures, rebuilds on other farms (CA ones
 * sometimes non-deterministic), multi-machine groups (some failing and poisoning members), FOD
 * verifications, operator poisonings.
 *
 * Events are built with the domain's makeEvent and ids, and every DerivationRegistered carries the real
 * ATerm that hashes to its drvPath (computed with libs/nix), so the domain's validation accepts them.
 * Policy output (ResultInvalidated) is not generated: running the policy produces it.
 */
import {
  DomainEvent,
  CommandMetadata,
  drvStreamName,
  groupStreamName,
  idempotencyKeys as keys,
  makeEvent,
  type AttemptSucceeded,
  type FailureCause,
  type FailureStatus,
  type FailureCache,
  type MemberAttempt,
} from '@buildgraph/domain';
import {
  makeFixedOutputPath,
  outputPathName,
  printDerivation,
  resolveDerivation,
  sha256Hex,
} from '@buildgraph/nix';
import { BOOTSTRAP_LENGTH, GraphBuilder, Rng, SYSTEM, throwingLookup, type Node } from './history-graph';

export interface HistoryOptions {
  seed: number;
  /** derivations in the graph (the resolved CA derivations come on top) */
  drvs: number;
  farms?: number;
  machinesPerFarm?: number;
  depth?: number;
  fodFraction?: number;
  caFraction?: number;
  transientRate?: number;
  permanentRate?: number;
  /** attempts that do not report inputRealisations */
  unreportedRate?: number;
  /** drvs built a second time on another farm */
  rebuildRate?: number;
  /** groups opened per 1000 drvs */
  groupsPerThousand?: number;
  /** operator poisonings per 1000 drvs */
  poisonsPerThousand?: number;
  /** drvs registered (evaluated) before the farms build them */
  chunk?: number;
  start?: string;
}

export interface HistoryEvent {
  stream: string;
  event: DomainEvent;
}

/** What the generator learned, for tests and benchmarks (filled while iterating). */
export interface HistoryFacts {
  stdenv: string;
  drvPaths: string[];
  events: number;
  byType: Record<string, number>;
}

const TRANSIENT: { status: FailureStatus; cause: FailureCause; tail: string }[] = [
  { status: 'MiscFailure', cause: 'oom', tail: 'g++: fatal error: Killed signal terminated program cc1plus' },
  {
    status: 'TransientFailure',
    cause: 'network',
    tail: "curl: (6) Could not resolve host: github.com\nerror: cannot download source from 'https://github.com'",
  },
  { status: 'MiscFailure', cause: 'disk-full', tail: 'cp: error writing file: No space left on device' },
];

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Streams the history. `facts` (optional) is filled as events are produced.
 */
export function* generateHistory(options: HistoryOptions, facts?: HistoryFacts): Generator<HistoryEvent> {
  const o = {
    farms: 3,
    machinesPerFarm: 4,
    depth: 30,
    fodFraction: 0.06,
    caFraction: 0.15,
    transientRate: 0.04,
    permanentRate: 0.015,
    unreportedRate: 0.05,
    rebuildRate: 0.05,
    groupsPerThousand: 4,
    poisonsPerThousand: 2,
    chunk: 1000,
    start: '2024-03-01T00:00:00.000Z',
    ...options,
  };
  const rng = new Rng(o.seed);
  const farms = Array.from({ length: o.farms }, (_, i) => `farm-${i + 1}`);
  const machines = (farm: string): string => `${farm}-m${1 + rng.int(o.machinesPerFarm)}`;
  let clock = Date.parse(o.start);
  let seq = 0;
  const counted = facts ?? { stdenv: '', drvPaths: [], events: 0, byType: {} };

  const meta = (signerFarm?: string): CommandMetadata => {
    clock += 1000 + rng.int(20_000);
    const m: CommandMetadata = { commandId: `gen-${o.seed}-${++seq}`, recordedAt: iso(clock) };
    if (signerFarm) m.correlationId = `${signerFarm}-run-${Math.floor(seq / 50)}`;
    return m;
  };
  const emit = (stream: string, event: DomainEvent): HistoryEvent => {
    counted.events++;
    counted.byType[event.type] = (counted.byType[event.type] ?? 0) + 1;
    return { stream, event };
  };
  const drvEvent = (event: DomainEvent & { data: { drvPath: string } }): HistoryEvent =>
    emit(drvStreamName(event.data.drvPath), event);

  // --- the graph -------------------------------------------------------------------------------
  const graph = new GraphBuilder(o, rng);
  const byPath = graph.byPath;
  const bootstrapLen = BOOTSTRAP_LENGTH;

  function register(index: number): { node: Node; event: HistoryEvent } {
    const { node, aterm } = graph.register(index);
    const { drvPath, drv } = node;
    counted.drvPaths.push(drvPath);
    if (index === bootstrapLen) counted.stdenv = drvPath;
    const event = makeEvent(
      'DerivationRegistered',
      {
        drvPath,
        name: node.name,
        system: SYSTEM,
        outputs: drv.outputs,
        inputDrvs: drv.inputDrvs,
        inputSrcs: drv.inputSrcs,
        aterm,
      },
      keys.derivationRegistered(drvPath),
      meta(),
    );
    return { node, event: drvEvent(event) };
  }

  // --- building ----------------------------------------------------------------------------------
  let attemptSeq = 0;
  const rebuilt = new Set<Node>();
  const registeredResolved = new Set<string>();

  function* attempt(
    node: Node,
    farm: string,
    groupId?: string,
    mustFail?: boolean,
  ): Generator<HistoryEvent, 'ok' | 'transient' | 'permanent' | 'dependency'> {
    const attemptId = `${farm}-a${++attemptSeq}`;
    const machine = machines(farm);
    const m = meta(farm);
    const startData: {
      drvPath: string;
      attemptId: string;
      farm: string;
      machine: string;
      startedAt: string;
      groupId?: string;
    } = { drvPath: node.drvPath, attemptId, farm, machine, startedAt: m.recordedAt };
    if (groupId) startData.groupId = groupId;
    yield drvEvent(
      makeEvent('AttemptStarted', startData, keys.attempt(node.drvPath, attemptId, 'AttemptStarted'), m),
    );
    const fail = (
      status: FailureStatus,
      cause: FailureCause,
      cache: FailureCache,
      tail: string,
    ): HistoryEvent => {
      const fm = meta(farm);
      const log = { sha256: sha256Hex(`${attemptId}\n${tail}`), bytes: 4096 + rng.int(1 << 20), tail };
      const data = {
        drvPath: node.drvPath,
        attemptId,
        status,
        cause,
        transient: cache === 'retry',
        cache,
        log,
        finishedAt: fm.recordedAt,
      };
      return drvEvent(
        makeEvent(
          'AttemptFailed',
          cause === 'builder' ? { ...data, exitCode: 2 } : data,
          keys.attempt(node.drvPath, attemptId, 'AttemptFailed'),
          fm,
        ),
      );
    };
    const broken = Object.entries(node.inputs).find(([dep]) => !byPath.get(dep)!.valid);
    if (broken) {
      yield fail(
        'DependencyFailed',
        'dependency',
        'cache',
        `error: 1 dependencies of derivation '${node.drvPath}' failed to build`,
      );
      return 'dependency';
    }
    if (!mustFail && rng.chance(o.transientRate)) {
      const t = rng.pick(TRANSIENT);
      yield fail(t.status, t.cause, 'retry', t.tail);
      return 'transient';
    }
    // permanent failures hit leaf-ish packages: one in a hub would fail most of the graph, which no farm tolerates for long
    if (mustFail || (node.level >= o.depth - 8 && rng.chance(o.permanentRate))) {
      yield fail(
        'PermanentFailure',
        'builder',
        'cache',
        `make: *** [Makefile:${100 + rng.int(900)}: all] Error 2\nerror: builder for '${node.drvPath}' failed with exit code 2`,
      );
      return 'permanent';
    }
    const inputRealisations: Record<string, string> = {};
    for (const [dep, outs] of Object.entries(node.inputs))
      for (const out of outs) inputRealisations[`${dep}^${out}`] = byPath.get(dep)!.valid![out];
    let outputs: Record<string, string> = node.outputs;
    if (node.kind === 'ca' || node.kind === 'deferred') {
      const resolved = resolveDerivation(node.drv, inputRealisations, throwingLookup);
      if (!registeredResolved.has(resolved.drvPath)) {
        registeredResolved.add(resolved.drvPath);
        const aterm = printDerivation(resolved.drv);
        yield drvEvent(
          makeEvent(
            'DerivationRegistered',
            {
              drvPath: resolved.drvPath,
              name: node.name,
              system: SYSTEM,
              outputs: resolved.drv.outputs,
              inputDrvs: {},
              inputSrcs: resolved.drv.inputSrcs,
              aterm,
            },
            keys.derivationRegistered(resolved.drvPath),
            meta(),
          ),
        );
      }
      const rm = meta(farm);
      yield drvEvent(
        makeEvent(
          'AttemptResolved',
          { drvPath: node.drvPath, attemptId, resolvedDrvPath: resolved.drvPath, inputRealisations },
          keys.attempt(node.drvPath, attemptId, 'AttemptResolved'),
          rm,
        ),
      );
      if (node.kind === 'ca') {
        // content addressed: the path is the hash of what was built, so a non-deterministic rebuild differs
        const nondet = node.valid !== undefined && rng.chance(0.3) ? `/${farm}` : '';
        outputs = Object.fromEntries(
          Object.keys(node.outputs).map((n) => [
            n,
            makeFixedOutputPath(
              outputPathName(node.name, n),
              'nar',
              'sha256',
              sha256Hex(`${resolved.drvPath}^${n}${nondet}`),
            ),
          ]),
        );
      } else {
        outputs = Object.fromEntries(Object.entries(resolved.drv.outputs).map(([n, out]) => [n, out.path]));
      }
    }
    const sm = meta(farm);
    const data: AttemptSucceeded['data'] = {
      drvPath: node.drvPath,
      attemptId,
      outputs,
      finishedAt: sm.recordedAt,
    };
    if (node.kind === 'ca' || node.kind === 'deferred' || !rng.chance(o.unreportedRate))
      data.inputRealisations = inputRealisations;
    yield drvEvent(
      makeEvent('AttemptSucceeded', data, keys.attempt(node.drvPath, attemptId, 'AttemptSucceeded'), sm),
    );
    if (node.kind === 'fod') {
      const expected = `sha256:${node.drv.outputs.out.hash}`;
      const mismatch = rng.chance(0.02);
      const v = {
        drvPath: node.drvPath,
        attemptId,
        outputHash: { expected, actual: mismatch ? `sha256:${sha256Hex(attemptId)}` : expected },
        inputsFingerprint: sha256Hex(`unfixed:${node.drvPath}`),
      };
      yield drvEvent(
        makeEvent(
          mismatch ? 'FodMismatch' : 'FodVerified',
          v,
          keys.attempt(node.drvPath, attemptId, mismatch ? 'FodMismatch' : 'FodVerified'),
          meta(farm),
        ),
      );
    }
    node.valid = outputs;
    node.validAttempt = attemptId;
    return 'ok';
  }

  /** Builds until success, giving up on permanent failures; an operator sometimes clears and retries. */
  function* build(node: Node): Generator<HistoryEvent> {
    // an input poisoned since it was built is rebuilt first, as a farm would
    for (const dep of Object.keys(node.inputs)) {
      const d = byPath.get(dep)!;
      if (!d.valid && d.serial > 0 && !rebuilt.has(d)) {
        rebuilt.add(d);
        yield* build(d);
      }
    }
    const farm = rng.pick(farms);
    for (let tries = 0; tries < 4; tries++) {
      const r = yield* attempt(node, farm);
      if (r === 'ok' || r === 'dependency') break;
      if (r === 'permanent') {
        const failedAttempt = `${farm}-a${attemptSeq}`;
        if (!rng.chance(0.5)) break;
        const cm = meta();
        yield drvEvent(
          makeEvent(
            'FailureCleared',
            {
              drvPath: node.drvPath,
              attemptId: failedAttempt,
              by: 'operator-alice',
              reason: 'flaky test, retrying',
            },
            keys.failureCleared(node.drvPath, failedAttempt),
            cm,
          ),
        );
      }
      clock += 60_000 * 3 ** tries; // the backoff the negative cache asks for
    }
    if (node.valid && rng.chance(o.rebuildRate))
      yield* attempt(node, farms[(farms.indexOf(farm) + 1) % farms.length]);
  }

  function* poison(
    node: Node,
    cause: 'operator' | 'group-failure',
    reason: string,
    attemptIds: string[],
    outputPaths: string[],
  ): Generator<HistoryEvent> {
    node.serial++;
    const data = {
      drvPath: node.drvPath,
      serial: node.serial,
      reason,
      scope: { kind: 'attempt' as const, attemptId: attemptIds[0] },
      cause,
      attemptIds,
      outputPaths: [...new Set(outputPaths)].sort(),
    };
    yield drvEvent(makeEvent('ResultPoisoned', data, keys.resultPoisoned(node.drvPath, node.serial), meta()));
    node.valid = undefined;
    node.validAttempt = undefined;
  }

  function* group(members: Node[]): Generator<HistoryEvent> {
    const groupId = `grp-${o.seed}-${members[0].index}`;
    const stream = groupStreamName(groupId);
    const om = meta();
    yield emit(
      stream,
      makeEvent(
        'GroupOpened',
        {
          groupId,
          members: members.map((m) => ({ drvPath: m.drvPath })),
          deadline: iso(clock + 4 * 3600_000),
        },
        keys.group(groupId, 'GroupOpened'),
        om,
      ),
    );
    const failing = rng.chance(0.3) ? 1 + rng.int(members.length - 1) : -1;
    const succeeded: MemberAttempt[] = [];
    const farm = rng.pick(farms);
    for (let i = 0; i < members.length; i++) {
      const r = yield* attempt(members[i], farm, groupId, i === failing);
      if (r === 'ok') {
        const member = { drvPath: members[i].drvPath, attemptId: members[i].validAttempt! };
        succeeded.push(member);
        yield emit(
          stream,
          makeEvent(
            'GroupMemberSucceeded',
            { groupId, ...member, at: iso(clock) },
            keys.groupMember(groupId, member.drvPath),
            meta(),
          ),
        );
      } else {
        const failedAttempt = `${farm}-a${attemptSeq}`;
        const gm = meta();
        const detail = `${members[i].drvPath} failed in attempt ${failedAttempt}`;
        yield emit(
          stream,
          makeEvent(
            'GroupFailed',
            {
              groupId,
              reason: 'member-failed',
              member: { drvPath: members[i].drvPath, attemptId: failedAttempt },
              detail,
              succeeded: [...succeeded],
            },
            keys.group(groupId, 'GroupFailed'),
            gm,
          ),
        );
        for (const s of succeeded) {
          const n = byPath.get(s.drvPath)!;
          yield* poison(
            n,
            'group-failure',
            `group ${groupId} failed: ${detail}`,
            [s.attemptId],
            Object.values(n.valid ?? {}),
          );
        }
        return;
      }
    }
    yield emit(
      stream,
      makeEvent(
        'GroupSucceeded',
        { groupId, members: succeeded },
        keys.group(groupId, 'GroupSucceeded'),
        meta(),
      ),
    );
  }

  // --- the history: evaluate a chunk, build it, now and then poison --------------------------------
  for (let from = 0; from < o.drvs; from += o.chunk) {
    const chunk: Node[] = [];
    for (let i = from; i < Math.min(o.drvs, from + o.chunk); i++) {
      const r = register(i);
      chunk.push(r.node);
      yield r.event;
    }
    // a few runs of consecutive leaf-ish package drvs form multi-machine groups, built together in chunk
    // order (near the top of the graph: a failed group leaves members unbuilt, and few wait for those)
    const groupOf = new Map<Node, Node[]>();
    const groups = Math.round((chunk.length * o.groupsPerThousand) / 1000);
    const tops = chunk.map((n, i) => i).filter((i) => chunk[i].level >= o.depth - 6);
    for (let g = 0; g < groups && tops.length > 0; g++) {
      const at = rng.pick(tops);
      const members = chunk.slice(at, at + 2 + rng.int(2));
      if (
        members.length < 2 ||
        members.some((m) => m.kind !== 'ia' || m.level < o.depth - 6 || groupOf.has(m))
      )
        continue;
      for (const m of members) groupOf.set(m, members);
    }
    for (const n of chunk) {
      const members = groupOf.get(n);
      if (!members) yield* build(n);
      else if (members[0] === n) yield* group(members);
    }
    const poisons = Math.round((chunk.length * o.poisonsPerThousand) / 1000);
    for (let p = 0; p < poisons; p++) {
      const n = chunk[rng.int(chunk.length)];
      if (n.valid && n.kind !== 'fod' && n.index > o.chunk / 10)
        yield* poison(
          n,
          'operator',
          'bad machine: results of farm hardware under investigation',
          [n.validAttempt!],
          Object.values(n.valid),
        );
    }
  }
}

/** The whole history in memory (small sizes, for tests). */
export function historyEvents(options: HistoryOptions): { events: HistoryEvent[]; facts: HistoryFacts } {
  const facts: HistoryFacts = { stdenv: '', drvPaths: [], events: 0, byType: {} };
  const events = [...generateHistory(options, facts)];
  return { events, facts };
}
