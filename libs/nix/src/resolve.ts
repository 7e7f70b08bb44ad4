/**
 * Resolution (Nix 2.8 Derivation::tryResolve and rewriteDerivation in derivations.cc): once the outputs of a
 * derivation's inputs are known, it becomes a derivation with no input derivations, whose placeholders for
 * those outputs are replaced by the real paths. Many derivations can resolve to the same one.
 */
import { compareUtf8, Derivation, derivationName } from './derivation';
import { NixError } from './errors';
import { derivationPath, DrvLookup, hashDerivationModulo } from './hash';
import { downstreamPlaceholder } from './placeholders';
import { DEFAULT_STORE_DIR, makeOutputPath, parseStorePath } from './store-path';


/**
 * Nix's rewriteStrings: each rewrite in key order, every occurrence. Keys are placeholders or store paths,
 * which never overlap, so the order only matters for matching Nix exactly.
 */
export function rewriteStrings(s: string, rewrites: Map<string, string>): string {
  for (const [from, to] of rewrites) {
    if (from !== to && s.includes(from)) s = s.split(from).join(to);
  }
  return s;
}

/** Applies `rewrites` to the builder, the arguments and the environment (names and values), as Nix does. */
export function rewriteDerivationStrings(drv: Derivation, rewrites: Map<string, string>): Derivation {
  const sorted = new Map([...rewrites].sort(([a], [b]) => compareUtf8(a, b)));
  const env: Record<string, string> = {};
  for (const name of Object.keys(drv.env).sort(compareUtf8)) {
    const newName = rewriteStrings(name, sorted);
    // std::map::emplace keeps the first value if two names collide after rewriting
    if (!(newName in env)) env[newName] = rewriteStrings(drv.env[name], sorted);
  }
  return {
    ...drv,
    builder: rewriteStrings(drv.builder, sorted),
    args: drv.args.map((a) => rewriteStrings(a, sorted)),
    env: Object.fromEntries(Object.keys(env).sort(compareUtf8).map((k) => [k, env[k]])),
  };
}

/**
 * The resolved derivation and its path. `inputRealisations` maps "<drvPath>^<out>" to the store path that
 * input output was realised as; where it lacks an entry, the input derivation's own output path is used
 * (input-addressed and fixed outputs), as Nix's store does. An output with neither throws NixError
 * 'MISSING_REALISATION' naming "<drvPath>^<out>".
 */
export function resolveDerivation(
  drv: Derivation,
  inputRealisations: Record<string, string>,
  lookup: DrvLookup,
  opts: { storeDir?: string } = {},
): { drv: Derivation; drvPath: string } {
  const storeDir = opts.storeDir ?? DEFAULT_STORE_DIR;
  const rewrites = new Map<string, string>();
  const inputSrcs = new Set(drv.inputSrcs);
  for (const inputDrvPath of Object.keys(drv.inputDrvs).sort(compareUtf8)) {
    for (const outputName of drv.inputDrvs[inputDrvPath]) {
      const outPath = realisedPath(inputDrvPath, outputName, inputRealisations, lookup, storeDir);
      rewrites.set(downstreamPlaceholder(inputDrvPath, outputName, storeDir), outPath);
      inputSrcs.add(outPath);
    }
  }
  const resolved: Derivation = {
    ...rewriteDerivationStrings(drv, rewrites),
    outputs: Object.fromEntries(Object.entries(drv.outputs).map(([name, out]) => [name, { ...out }])),
    inputDrvs: {},
    inputSrcs: [...inputSrcs].sort(compareUtf8),
  };
  fillDeferredOutputs(resolved, lookup, storeDir);
  return { drv: resolved, drvPath: derivationPath(resolved, storeDir) };
}

function realisedPath(
  inputDrvPath: string,
  outputName: string,
  inputRealisations: Record<string, string>,
  lookup: DrvLookup,
  storeDir: string,
): string {
  const id = `${inputDrvPath}^${outputName}`;
  const realised = inputRealisations[id];
  if (realised !== undefined) {
    parseStorePath(realised, storeDir); // a clear STORE_PATH error rather than a corrupt derivation
    return realised;
  }
  const output = lookup(inputDrvPath).outputs[outputName];
  if (output === undefined) {
    throw new NixError('INVALID_DERIVATION', `input derivation '${inputDrvPath}' has no output '${outputName}'`, { id });
  }
  if (output.path === '') {
    throw new NixError('MISSING_REALISATION', `cannot resolve: no realisation of input '${id}'`, { id });
  }
  return output.path;
}

/** Deferred outputs get the paths their input addressing gives now that no input is content-addressed. */
function fillDeferredOutputs(drv: Derivation, lookup: DrvLookup, storeDir: string): void {
  const deferred = Object.keys(drv.outputs).filter((o) => drv.outputs[o].path === '' && drv.outputs[o].hashAlgo === '');
  if (deferred.length === 0) return;
  const hashModulo = hashDerivationModulo(drv, lookup, { maskOutputs: true, storeDir });
  const name = derivationName(drv);
  const env = { ...drv.env };
  for (const outputName of deferred) {
    const path = makeOutputPath(outputName, hashModulo.hashes[outputName], name, storeDir);
    drv.outputs[outputName] = { path, hashAlgo: '', hash: '' };
    env[outputName] = path;
  }
  drv.env = Object.fromEntries(Object.keys(env).sort(compareUtf8).map((k) => [k, env[k]]));
}
