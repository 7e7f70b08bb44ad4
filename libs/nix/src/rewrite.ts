/**
 * The serial rewrite: how poisoning reaches plain Nix builders. A poisoned derivation gets the attribute
 * `buildgraphSerial = "<n>"`, so it has a new .drv path (and, unless fixed-output, new output paths), and
 * every derivation built on top of it changes with it: exactly what Nix computes when the expressions add
 * that attribute. See docs/nix-vectors.md.
 */
import { printDerivation } from './aterm';
import { compareUtf8, Derivation } from './derivation';
import { NixError } from './errors';
import { derivationPathFromAterm, DrvHash, fillOutputPaths } from './hash';
import { downstreamPlaceholder } from './placeholders';
import { DEFAULT_STORE_DIR } from './store-path';
import { topologicalOrder } from './closure';
import { rewriteDerivationStrings } from './resolve';

/** The environment variable (or structured attribute) that carries a derivation's serial. */
export const SERIAL_ATTRIBUTE = 'buildgraphSerial';


export interface RewrittenDerivation {
  drvPath: string;
  drv: Derivation;
  aterm: string;
}

/**
 * Rewrites `graph` (drvPath -> derivation; it must hold every input of each derivation that changes) for
 * the given serials (drvPath -> serial). Returns, for each derivation whose .drv path changes, the new
 * path, derivation and ATerm, keyed by the old path. Unchanged derivations are left out.
 */
export function rewriteWithSerials(
  graph: Record<string, Derivation>,
  serials: Record<string, number>,
  opts: { storeDir?: string } = {},
): Record<string, RewrittenDerivation> {
  const storeDir = opts.storeDir ?? DEFAULT_STORE_DIR;
  for (const [drvPath, serial] of Object.entries(serials)) {
    if (!(drvPath in graph)) throw new NixError('NOT_A_DERIVATION', `cannot poison '${drvPath}': not in the graph`, { drvPath });
    if (!Number.isSafeInteger(serial) || serial < 0) {
      throw new NixError('INVALID_SERIAL', `serial of '${drvPath}' must be a non-negative integer, not ${serial}`, { drvPath, serial });
    }
  }
  const changed: Record<string, RewrittenDerivation> = {};
  const byNewPath = new Map<string, Derivation>();
  const lookup = (drvPath: string): Derivation => {
    const drv = byNewPath.get(drvPath) ?? graph[drvPath];
    if (drv === undefined) throw new NixError('NOT_A_DERIVATION', `derivation '${drvPath}' is not in the graph`, { drvPath });
    return drv;
  };
  const cache = new Map<string, DrvHash>();

  for (const oldPath of topologicalOrder(graph)) {
    const drv = graph[oldPath];
    const changedInputs = Object.keys(drv.inputDrvs).filter((p) => p in changed);
    const serial = serials[oldPath];
    if (changedInputs.length === 0 && serial === undefined) continue;

    let next = rewriteDerivationStrings(drv, inputRewrites(graph, changed, changedInputs, storeDir));
    next = { ...next, inputDrvs: renameInputs(drv.inputDrvs, changed) };
    if (serial !== undefined) next = withSerial(next, serial);
    next = fillOutputPaths(next, lookup, { cache, storeDir });
    const aterm = printDerivation(next);
    const drvPath = derivationPathFromAterm(aterm, next, storeDir);
    if (drvPath === oldPath) continue;
    byNewPath.set(drvPath, next);
    changed[oldPath] = { drvPath, drv: next, aterm };
  }
  return changed;
}

/**
 * Old -> new strings for the changed inputs: each output path (unless it stays, as a fixed output's does)
 * and each downstream placeholder, which is how a dependent names an output that is unknown until built.
 */
function inputRewrites(
  graph: Record<string, Derivation>,
  changed: Record<string, RewrittenDerivation>,
  changedInputs: string[],
  storeDir: string,
): Map<string, string> {
  const rewrites = new Map<string, string>();
  for (const oldInput of changedInputs) {
    const { drvPath: newInput, drv: newDrv } = changed[oldInput];
    for (const [outputName, oldOut] of Object.entries(graph[oldInput].outputs)) {
      const newOut = newDrv.outputs[outputName];
      if (oldOut.path !== '' && newOut !== undefined && newOut.path !== '' && oldOut.path !== newOut.path) {
        rewrites.set(oldOut.path, newOut.path);
      }
      rewrites.set(downstreamPlaceholder(oldInput, outputName, storeDir), downstreamPlaceholder(newInput, outputName, storeDir));
    }
  }
  return rewrites;
}

function renameInputs(inputDrvs: Record<string, string[]>, changed: Record<string, RewrittenDerivation>): Record<string, string[]> {
  const renamed = Object.entries(inputDrvs).map(([p, outs]): [string, string[]] => [changed[p]?.drvPath ?? p, outs]);
  return Object.fromEntries(renamed.sort(([a], [b]) => compareUtf8(a, b)));
}

/**
 * Sets the serial the way the `derivation` builtin would: an environment variable, or, with
 * __structuredAttrs, a key of the __json attribute (printed like Nix's JSON: compact, keys in byte order).
 */
function withSerial(drv: Derivation, serial: number): Derivation {
  const env = { ...drv.env };
  if ('__json' in env) {
    const attrs = JSON.parse(env.__json) as Record<string, unknown>;
    attrs[SERIAL_ATTRIBUTE] = String(serial);
    env.__json = nixJson(attrs);
  } else {
    env[SERIAL_ATTRIBUTE] = String(serial);
  }
  return { ...drv, env: Object.fromEntries(Object.keys(env).sort(compareUtf8).map((k) => [k, env[k]])) };
}

/** nlohmann::json's compact dump of a parsed value: object keys sorted by bytes, strings as JSON.stringify. */
function nixJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(nixJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort(compareUtf8)
      .map((k) => `${JSON.stringify(k)}:${nixJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
