/**
 * Given/when/then for read models and policies: a small farm that writes the events the domain would
 * (real .drv texts and store paths from libs/nix, ids from the domain), and an in-memory projector that
 * applies the read models exactly as the runtime does (list order, keys then evolve, docs visible to
 * later models), without SQLite.
 */
import {
  READ_MODELS,
  drvStreamName,
  groupStreamName,
  idempotencyKeys as keys,
  makeEvent,
  type CommandMetadata,
  type DomainEvent,
  type FailureCache,
  type FailureCause,
  type FailureStatus,
  type ReadModel,
} from '@buildgraph/domain';
import {
  type Derivation,
  type DrvHash,
  derivationName,
  derivationPathFromAterm,
  fillOutputPaths,
  hashDerivationModulo,
  makeFixedOutputPath,
  outputPathName,
  printDerivation,
  resolveDerivation,
  sha256Hex,
} from '@buildgraph/nix';

export interface Drv {
  drvPath: string;
  name: string;
  outputs: Record<string, string>;
  drv: Derivation;
  inputs: Drv[];
}

const BASH = '/nix/store/0i2jd68mp5g6h2sa5k9c85rb80sn8hi9-bash-5.2-p15';
const noLookup = (p: string): Derivation => {
  throw new Error(`not in cache: ${p}`);
};

/** Writes events as a farm, an operator and the service would; time moves one minute per event. */
export class Farm {
  private clock = Date.parse('2024-05-01T12:00:00.000Z');
  private seq = 0;
  private readonly hashes = new Map<string, DrvHash>();
  readonly log: DomainEvent[] = [];

  now(): Date {
    return new Date(this.clock);
  }
  advance(ms: number): void {
    this.clock += ms;
  }
  private meta(): CommandMetadata {
    this.clock += 60_000;
    return { commandId: `cmd-${++this.seq}`, recordedAt: new Date(this.clock).toISOString() };
  }
  private push<E extends DomainEvent>(e: E): E {
    this.log.push(e);
    return e;
  }

  /** Registers a derivation built from `inputs` (their 'out'); `kind` 'ca' makes a floating CA drv, 'fod' a fixed output. */
  drv(name: string, inputs: Drv[] = [], kind: 'ia' | 'ca' | 'fod' = 'ia', salt = ''): Drv {
    const env: Record<string, string> = { builder: `${BASH}/bin/bash`, name, system: 'x86_64-linux', salt };
    const outputs: Derivation['outputs'] =
      kind === 'fod'
        ? { out: { path: '', hashAlgo: 'sha256', hash: sha256Hex(`${name}${salt}`) } }
        : { out: { path: '', hashAlgo: kind === 'ca' ? 'r:sha256' : '', hash: '' } };
    if (kind === 'ca')
      Object.assign(env, { __contentAddressed: '1', outputHashMode: 'recursive', outputHashAlgo: 'sha256' });
    const bare: Derivation = {
      outputs,
      inputDrvs: Object.fromEntries(inputs.map((i) => [i.drvPath, ['out']])),
      inputSrcs: [BASH],
      system: 'x86_64-linux',
      builder: `${BASH}/bin/bash`,
      args: ['-e', '/builder.sh'],
      env,
    };
    const drv = fillOutputPaths(bare, noLookup, { cache: this.hashes });
    const aterm = printDerivation(drv);
    const drvPath = derivationPathFromAterm(aterm, drv);
    this.hashes.set(drvPath, hashDerivationModulo(drv, noLookup, { cache: this.hashes }));
    const d: Drv = {
      drvPath,
      name: derivationName(drv),
      outputs: Object.fromEntries(Object.entries(drv.outputs).map(([n, o]) => [n, o.path])),
      drv,
      inputs,
    };
    this.push(
      makeEvent(
        'DerivationRegistered',
        {
          drvPath,
          name: d.name,
          system: drv.system,
          outputs: drv.outputs,
          inputDrvs: drv.inputDrvs,
          inputSrcs: drv.inputSrcs,
          aterm,
        },
        keys.derivationRegistered(drvPath),
        this.meta(),
      ),
    );
    return d;
  }

  started(
    d: Drv,
    attemptId: string,
    where: { farm?: string; machine?: string; groupId?: string } = {},
  ): DomainEvent {
    const m = this.meta();
    const data: {
      drvPath: string;
      attemptId: string;
      farm: string;
      machine: string;
      startedAt: string;
      groupId?: string;
    } = {
      drvPath: d.drvPath,
      attemptId,
      farm: where.farm ?? 'farm-a',
      machine: where.machine ?? 'm1',
      startedAt: m.recordedAt,
    };
    if (where.groupId) data.groupId = where.groupId;
    return this.push(
      makeEvent('AttemptStarted', data, keys.attempt(d.drvPath, attemptId, 'AttemptStarted'), m),
    );
  }

  /** `consumed`: the input paths actually used ('none' = not reported; default: the inputs' registered outputs). */
  succeeded(
    d: Drv,
    attemptId: string,
    opts: { consumed?: Record<string, string> | 'none'; outputs?: Record<string, string> } = {},
  ): DomainEvent {
    const m = this.meta();
    const inputRealisations =
      opts.consumed ?? Object.fromEntries(d.inputs.map((i) => [`${i.drvPath}^out`, i.outputs.out]));
    const data: {
      drvPath: string;
      attemptId: string;
      outputs: Record<string, string>;
      finishedAt: string;
      inputRealisations?: Record<string, string>;
    } = {
      drvPath: d.drvPath,
      attemptId,
      outputs: opts.outputs ?? d.outputs,
      finishedAt: m.recordedAt,
    };
    if (inputRealisations !== 'none') data.inputRealisations = inputRealisations;
    return this.push(
      makeEvent('AttemptSucceeded', data, keys.attempt(d.drvPath, attemptId, 'AttemptSucceeded'), m),
    );
  }

  /** Starts and succeeds in one go. */
  built(
    d: Drv,
    attemptId: string,
    opts: Parameters<Farm['succeeded']>[2] & { farm?: string; machine?: string } = {},
  ): DomainEvent {
    this.started(d, attemptId, opts);
    return this.succeeded(d, attemptId, opts);
  }

  /** Resolves a CA drv against `consumed` and builds it to content `content` (different content, different path). */
  builtCa(
    d: Drv,
    attemptId: string,
    consumed: Record<string, string>,
    content: string,
    where: { farm?: string; machine?: string } = {},
  ): { resolvedDrvPath: string; outPath: string } {
    this.started(d, attemptId, where);
    const resolved = resolveDerivation(d.drv, consumed, noLookup);
    const outPath = makeFixedOutputPath(outputPathName(d.name, 'out'), 'nar', 'sha256', sha256Hex(content));
    this.push(
      makeEvent(
        'AttemptResolved',
        { drvPath: d.drvPath, attemptId, resolvedDrvPath: resolved.drvPath, inputRealisations: consumed },
        keys.attempt(d.drvPath, attemptId, 'AttemptResolved'),
        this.meta(),
      ),
    );
    this.succeeded(d, attemptId, { consumed: 'none', outputs: { out: outPath } });
    return { resolvedDrvPath: resolved.drvPath, outPath };
  }

  failed(
    d: Drv,
    attemptId: string,
    f: { status: FailureStatus; cause: FailureCause; cache: FailureCache; tail?: string },
  ): DomainEvent {
    const m = this.meta();
    const tail = f.tail ?? `error: builder for '${d.drvPath}' failed`;
    const data = {
      drvPath: d.drvPath,
      attemptId,
      status: f.status,
      cause: f.cause,
      transient: f.cache === 'retry',
      cache: f.cache,
      log: { sha256: sha256Hex(tail), bytes: 1000, tail },
      finishedAt: m.recordedAt,
    };
    return this.push(
      makeEvent('AttemptFailed', data, keys.attempt(d.drvPath, attemptId, 'AttemptFailed'), m),
    );
  }

  poisoned(
    d: Drv,
    serial: number,
    attemptIds: string[],
    outputPaths: string[],
    cause: 'operator' | 'group-failure' = 'operator',
  ): DomainEvent {
    const data = {
      drvPath: d.drvPath,
      serial,
      reason: 'flaky machine',
      scope: { kind: 'attempt' as const, attemptId: attemptIds[0] },
      cause,
      attemptIds,
      outputPaths,
    };
    return this.push(makeEvent('ResultPoisoned', data, keys.resultPoisoned(d.drvPath, serial), this.meta()));
  }

  cleared(d: Drv, attemptId: string): DomainEvent {
    return this.push(
      makeEvent(
        'FailureCleared',
        { drvPath: d.drvPath, attemptId, by: 'alice', reason: 'retry it' },
        keys.failureCleared(d.drvPath, attemptId),
        this.meta(),
      ),
    );
  }

  fod(d: Drv, attemptId: string, ok: boolean): DomainEvent {
    const expected = `sha256:${d.drv.outputs.out.hash}`;
    const data = {
      drvPath: d.drvPath,
      attemptId,
      outputHash: { expected, actual: ok ? expected : `sha256:${sha256Hex('other')}` },
      inputsFingerprint: sha256Hex(`unfixed:${d.drvPath}`),
    };
    const type = ok ? 'FodVerified' : 'FodMismatch';
    return this.push(makeEvent(type, data, keys.attempt(d.drvPath, attemptId, type), this.meta()));
  }

  groupOpened(groupId: string, members: Drv[], deadlineInMs: number): DomainEvent {
    const m = this.meta();
    const deadline = new Date(this.clock + deadlineInMs).toISOString();
    return this.push(
      makeEvent(
        'GroupOpened',
        { groupId, members: members.map((x) => ({ drvPath: x.drvPath })), deadline },
        keys.group(groupId, 'GroupOpened'),
        m,
      ),
    );
  }
}

export function streamOf(e: DomainEvent): string {
  return 'groupId' in e.data && e.type.startsWith('Group')
    ? groupStreamName((e.data as { groupId: string }).groupId)
    : drvStreamName((e.data as { drvPath: string }).drvPath);
}

/** The read models after `events`, in memory: model -> key -> doc. */
export function project(
  events: readonly DomainEvent[],
  models: readonly ReadModel<unknown>[] = READ_MODELS,
): Map<string, Map<string, unknown>> {
  const docs = new Map<string, Map<string, unknown>>(models.map((m) => [m.name, new Map()]));
  const lookup = {
    get: <D>(model: string, key: string): D | undefined => docs.get(model)?.get(key) as D | undefined,
  };
  for (const e of events) {
    for (const m of models) {
      const store = docs.get(m.name)!;
      for (const key of m.keys(e, lookup)) {
        const next = m.evolve(store.get(key), e, key, lookup);
        if (next === undefined) store.delete(key);
        else store.set(key, next);
      }
    }
  }
  return docs;
}

export function doc<D>(docs: Map<string, Map<string, unknown>>, model: string, key: string): D {
  return docs.get(model)?.get(key) as D;
}
