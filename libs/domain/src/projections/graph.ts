/**
 * The derivation graph, both ways. `graph` holds each drv's inputDrvs (for closures); `referrers` holds
 * one small document per edge, keyed `<inputDrv> <drvPath>`, so "who depends on X" is a key-prefix scan
 * and a root with 50k referrers never becomes one huge document rewritten on every registration.
 */
import { NO_KEYS, ReadModel, KEY_SEP } from './read-model';

export const GRAPH = 'graph';
export const REFERRERS = 'referrers';

export interface GraphDoc {
  drvPath: string;
  name: string;
  /** output name -> path as registered ('' for floating CA and deferred outputs) */
  outputs: Record<string, string>;
  /** input drvPath -> the outputs used, as in the .drv */
  inputDrvs: Record<string, string[]>;
}

/** The edge inputDrv -> drvPath; the document carries the outputs of inputDrv that drvPath uses. */
export interface ReferrerDoc {
  outputs: string[];
}

export function referrerKey(inputDrv: string, drvPath: string): string {
  return inputDrv + KEY_SEP + drvPath;
}

export const graphModel: ReadModel<GraphDoc> = {
  name: GRAPH,
  version: 1,
  keys: (event) => (event.type === 'DerivationRegistered' ? [event.data.drvPath] : NO_KEYS),
  evolve: (doc, event) => {
    if (event.type !== 'DerivationRegistered' || doc !== undefined) return doc; // registration is once per drv
    const e = event.data;
    const inputDrvs: Record<string, string[]> = {};
    for (const k of Object.keys(e.inputDrvs).sort()) inputDrvs[k] = [...e.inputDrvs[k]].sort();
    const outputs: Record<string, string> = {};
    for (const k of Object.keys(e.outputs).sort()) outputs[k] = e.outputs[k].path;
    return { drvPath: e.drvPath, name: e.name, outputs, inputDrvs };
  },
};

export const referrersModel: ReadModel<ReferrerDoc> = {
  name: REFERRERS,
  version: 1,
  blind: true,
  keys: (event) =>
    event.type === 'DerivationRegistered'
      ? Object.keys(event.data.inputDrvs).map((i) => referrerKey(i, event.data.drvPath))
      : NO_KEYS,
  evolve: (doc, event, key) => {
    if (event.type !== 'DerivationRegistered') return doc;
    const input = key.slice(0, key.indexOf(KEY_SEP));
    return { outputs: [...(event.data.inputDrvs[input] ?? [])].sort() };
  },
};
