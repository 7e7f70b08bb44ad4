/**
 * FOD ledger: a fixed-output derivation that "builds" from a cached hash proves nothing about its
 * fetcher. One document per fixed output path: the drv that currently produces it (the latest one
 * registered: a new .drv path means new fetcher inputs), the last real verification and any mismatch.
 * `fodDue` lists what needs re-verifying.
 */
import type { DomainEvent, FodVerification } from '../events/types';
import { GRAPH, type GraphDoc } from './graph';
import { NO_KEYS, ReadModel } from './read-model';

export const FOD_LEDGER = 'fod-ledger';

export interface FodCheck {
  drvPath: string;
  attemptId: string;
  inputsFingerprint: string;
  expected: string;
  actual: string;
  at: string;
}

export interface FodLedgerDoc {
  outputPath: string;
  /** `<algo>:<hash>` as the .drv fixes it */
  outputHash: string;
  /** the drv registered last for this output: its inputs are the current ones */
  currentDrvPath: string;
  lastVerified?: FodCheck;
  lastMismatch?: FodCheck;
}

/** The fixed output of a registered drv (FODs have exactly one output, `out`, with a hash). */
function fixedOutput(event: DomainEvent): { path: string; hash: string } | undefined {
  if (event.type !== 'DerivationRegistered') return undefined;
  const outs = Object.values(event.data.outputs);
  if (outs.length !== 1 || outs[0].hash === '' || outs[0].path === '') return undefined;
  return { path: outs[0].path, hash: `${outs[0].hashAlgo}:${outs[0].hash}` };
}

function check(v: FodVerification, at: string): FodCheck {
  return {
    drvPath: v.drvPath,
    attemptId: v.attemptId,
    inputsFingerprint: v.inputsFingerprint,
    expected: v.outputHash.expected,
    actual: v.outputHash.actual,
    at,
  };
}

export const fodLedgerModel: ReadModel<FodLedgerDoc> = {
  name: FOD_LEDGER,
  version: 1,
  keys: (event, docs) => {
    const fixed = fixedOutput(event);
    if (fixed) return [fixed.path];
    if (event.type === 'FodVerified' || event.type === 'FodMismatch') {
      const outputs = docs.get<GraphDoc>(GRAPH, event.data.drvPath)?.outputs;
      const path = outputs ? Object.values(outputs)[0] : undefined;
      return path ? [path] : NO_KEYS;
    }
    return NO_KEYS;
  },
  evolve: (prev, event, key) => {
    const fixed = fixedOutput(event);
    if (fixed && event.type === 'DerivationRegistered')
      return { ...(prev ?? {}), outputPath: key, outputHash: fixed.hash, currentDrvPath: event.data.drvPath };
    if (!prev) return prev;
    if (event.type === 'FodVerified')
      return { ...prev, lastVerified: check(event.data, event.metadata.recordedAt) };
    if (event.type === 'FodMismatch')
      return { ...prev, lastMismatch: check(event.data, event.metadata.recordedAt) };
    return prev;
  },
};

export type FodDueReason = 'never-verified' | 'inputs-changed' | 'stale' | 'mismatch';

/** Why this FOD must be verified again at `now`, or undefined if it need not be. */
export function fodDue(doc: FodLedgerDoc, now: Date, olderThanMs: number): FodDueReason | undefined {
  const v = doc.lastVerified;
  if (doc.lastMismatch && (!v || doc.lastMismatch.at >= v.at)) return 'mismatch';
  if (!v) return 'never-verified';
  if (v.drvPath !== doc.currentDrvPath) return 'inputs-changed';
  if (Date.parse(v.at) < now.getTime() - olderThanMs) return 'stale';
  return undefined;
}
