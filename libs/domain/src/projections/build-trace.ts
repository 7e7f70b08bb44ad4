/**
 * Build traces, keyed by attempt (Nix manual's "build trace", made per attempt so that two different
 * outputs for one derivation output can coexist and be seen):
 * - `attempt-trace` `<drvPath> <attemptId>`: drv, resolved drv, inputs consumed, outputs, farm, machine.
 * - `base-trace` `<resolvedDrvPath>^<output>`: store path -> the attempts that produced it. An
 *   input-addressed drv is its own resolved drv.
 * - `incoherence` (same key): present once one resolved output has two different store paths.
 * - `consumers` `<storePath> <drvPath> <attemptId>`: which attempts consumed a path (from their
 *   inputRealisations); the invalidation policy walks it.
 * - `unreported-consumers` `<inputDrv> <drvPath> <attemptId>`: successful attempts that reported no
 *   inputs, under each of their input drvs: where the policy falls back to graph edges.
 */
import type { DomainEvent, InputRealisations } from '../events/types';
import { GRAPH, type GraphDoc } from './graph';
import { DocLookup, KEY_SEP, NO_KEYS, ReadModel } from './read-model';

export const ATTEMPT_TRACE = 'attempt-trace';
/** `<inputDrv> <drvPath> <attemptId>`: results that did not report their inputs, by input drv (the graph-edge fallback) */
export const UNREPORTED = 'unreported-consumers';
export const BASE_TRACE = 'base-trace';
export const INCOHERENCE = 'incoherence';
export const CONSUMERS = 'consumers';

export interface AttemptTraceDoc {
  drvPath: string;
  attemptId: string;
  farm?: string;
  machine?: string;
  startedAt?: string;
  groupId?: string;
  resolvedDrvPath?: string;
  inputRealisations?: InputRealisations;
  outputs?: Record<string, string>;
  substituted?: boolean;
  outcome: 'building' | 'succeeded' | 'failed';
  finishedAt?: string;
}

export interface AttemptRef {
  drvPath: string;
  attemptId: string;
}

export interface BaseTraceDoc {
  resolvedDrvPath: string;
  output: string;
  /** store path -> attempts that produced it (sorted) */
  paths: Record<string, AttemptRef[]>;
}

export interface IncoherenceDoc {
  resolvedDrvPath: string;
  output: string;
  paths: Record<string, (AttemptRef & { farm?: string; machine?: string })[]>;
}

export function attemptKey(drvPath: string, attemptId: string): string {
  return drvPath + KEY_SEP + attemptId;
}

export function consumerKey(storePath: string, drvPath: string, attemptId: string): string {
  return storePath + KEY_SEP + drvPath + KEY_SEP + attemptId;
}

export function parseConsumerKey(key: string): { storePath: string; drvPath: string; attemptId: string } {
  const [storePath, drvPath, attemptId] = key.split(KEY_SEP);
  return { storePath, drvPath, attemptId };
}

function attemptOf(event: DomainEvent): { drvPath: string; attemptId: string } | undefined {
  switch (event.type) {
    case 'AttemptStarted':
    case 'AttemptResolved':
    case 'AttemptSucceeded':
    case 'AttemptFailed':
      return event.data;
    default:
      return undefined;
  }
}

export const attemptTraceModel: ReadModel<AttemptTraceDoc> = {
  name: ATTEMPT_TRACE,
  version: 1,
  keys: (event) => {
    const a = attemptOf(event);
    return a ? [attemptKey(a.drvPath, a.attemptId)] : NO_KEYS;
  },
  evolve: (prev, event) => {
    const a = attemptOf(event);
    if (!a) return prev;
    const doc: AttemptTraceDoc = prev
      ? { ...prev }
      : { drvPath: a.drvPath, attemptId: a.attemptId, outcome: 'building' };
    switch (event.type) {
      case 'AttemptStarted':
        doc.farm = event.data.farm;
        doc.machine = event.data.machine;
        doc.startedAt = event.data.startedAt;
        if (event.data.groupId !== undefined) doc.groupId = event.data.groupId;
        return doc;
      case 'AttemptResolved':
        doc.resolvedDrvPath = event.data.resolvedDrvPath;
        doc.inputRealisations = event.data.inputRealisations;
        return doc;
      case 'AttemptSucceeded':
        doc.outcome = 'succeeded';
        doc.outputs = event.data.outputs;
        // what the build reports it consumed wins over what resolution sampled: it is what ran
        if (event.data.inputRealisations !== undefined) doc.inputRealisations = event.data.inputRealisations;
        if (event.data.substituted !== undefined) doc.substituted = event.data.substituted;
        doc.finishedAt = event.data.finishedAt;
        return doc;
      case 'AttemptFailed':
        doc.outcome = 'failed';
        doc.finishedAt = event.data.finishedAt;
        return doc;
      default:
        return prev;
    }
  },
};

/** The resolved drv an attempt's outputs belong to: its AttemptResolved, else the drv itself. */
function resolvedOf(docs: DocLookup, drvPath: string, attemptId: string): string {
  return docs.get<AttemptTraceDoc>(ATTEMPT_TRACE, attemptKey(drvPath, attemptId))?.resolvedDrvPath ?? drvPath;
}

function baseKeys(event: DomainEvent, docs: DocLookup): readonly string[] {
  if (event.type !== 'AttemptSucceeded') return NO_KEYS;
  const resolved = resolvedOf(docs, event.data.drvPath, event.data.attemptId);
  return Object.keys(event.data.outputs).map((out) => `${resolved}^${out}`);
}

function splitOutputKey(key: string): { resolvedDrvPath: string; output: string } {
  const i = key.lastIndexOf('^');
  return { resolvedDrvPath: key.slice(0, i), output: key.slice(i + 1) };
}

function byRef(a: AttemptRef, b: AttemptRef): number {
  return a.drvPath < b.drvPath
    ? -1
    : a.drvPath > b.drvPath
      ? 1
      : a.attemptId < b.attemptId
        ? -1
        : a.attemptId > b.attemptId
          ? 1
          : 0;
}

export const baseTraceModel: ReadModel<BaseTraceDoc> = {
  name: BASE_TRACE,
  version: 1,
  keys: baseKeys,
  evolve: (prev, event, key) => {
    if (event.type !== 'AttemptSucceeded') return prev;
    const { resolvedDrvPath, output } = splitOutputKey(key);
    const path = event.data.outputs[output];
    const ref: AttemptRef = { drvPath: event.data.drvPath, attemptId: event.data.attemptId };
    const refs = prev?.paths[path] ?? [];
    if (refs.some((r) => byRef(r, ref) === 0)) return prev;
    return { resolvedDrvPath, output, paths: { ...(prev?.paths ?? {}), [path]: [...refs, ref].sort(byRef) } };
  },
};

/** Reads base-trace, so it must come after it in the runner's list. */
export const incoherenceModel: ReadModel<IncoherenceDoc> = {
  name: INCOHERENCE,
  version: 1,
  keys: (event, docs) =>
    baseKeys(event, docs).filter(
      (k) => Object.keys(docs.get<BaseTraceDoc>(BASE_TRACE, k)?.paths ?? {}).length > 1,
    ),
  evolve: (_prev, _event, key, docs) => {
    const base = docs.get<BaseTraceDoc>(BASE_TRACE, key);
    if (!base) return undefined;
    const paths: IncoherenceDoc['paths'] = {};
    for (const [path, refs] of Object.entries(base.paths)) {
      paths[path] = refs.map((r) => {
        const t = docs.get<AttemptTraceDoc>(ATTEMPT_TRACE, attemptKey(r.drvPath, r.attemptId));
        const withWhere: AttemptRef & { farm?: string; machine?: string } = { ...r };
        if (t?.farm !== undefined) withWhere.farm = t.farm;
        if (t?.machine !== undefined) withWhere.machine = t.machine;
        return withWhere;
      });
    }
    return { resolvedDrvPath: base.resolvedDrvPath, output: base.output, paths };
  },
};

export const consumersModel: ReadModel<true> = {
  name: CONSUMERS,
  version: 1,
  blind: true,
  keys: (event, docs) => {
    if (event.type !== 'AttemptSucceeded') return NO_KEYS;
    const { drvPath, attemptId } = event.data;
    // a CA attempt may report its inputs only through AttemptResolved; attempt-trace (earlier) has them
    const inputs =
      event.data.inputRealisations ??
      docs.get<AttemptTraceDoc>(ATTEMPT_TRACE, attemptKey(drvPath, attemptId))?.inputRealisations;
    if (inputs === undefined) return NO_KEYS;
    return [...new Set(Object.values(inputs))].map((p) => consumerKey(p, drvPath, attemptId));
  },
  evolve: (doc, event) => (event.type === 'AttemptSucceeded' ? true : doc),
};

/** Reads graph and attempt-trace, so it comes after both. */
export const unreportedConsumersModel: ReadModel<true> = {
  name: UNREPORTED,
  version: 1,
  blind: true,
  keys: (event, docs) => {
    if (event.type !== 'AttemptSucceeded' || event.data.inputRealisations !== undefined) return NO_KEYS;
    const { drvPath, attemptId } = event.data;
    if (
      docs.get<AttemptTraceDoc>(ATTEMPT_TRACE, attemptKey(drvPath, attemptId))?.inputRealisations !==
      undefined
    )
      return NO_KEYS;
    return Object.keys(docs.get<GraphDoc>(GRAPH, drvPath)?.inputDrvs ?? {}).map((input) =>
      consumerKey(input, drvPath, attemptId),
    );
  },
  evolve: (doc, event) => (event.type === 'AttemptSucceeded' ? true : doc),
};
