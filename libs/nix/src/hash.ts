/**
 * Derivation hashing (derivations.cc hashDerivationModulo / pathDerivationModulo, writeDerivation) and the
 * output paths derivationStrict (primops.cc) computes from it.
 */
import { printDerivation, printInputs, unparseDerivation } from './aterm';
import { Derivation, DerivationOutput, DerivationType, derivationName, derivationType, outputContentAddressing, sortedByUtf8 } from './derivation';
import { NixError } from './errors';
import { hashPlaceholder } from './placeholders';
import { DEFAULT_STORE_DIR, makeFixedOutputPath, makeOutputPath, makeTextPath, outputPathName, sha256Hex, sortedUniqueAscii } from './store-path';

/** Path of the .drv file for this derivation: a text path referencing its inputSrcs and inputDrvs. */
export function derivationPath(drv: Derivation, storeDir = DEFAULT_STORE_DIR): string {
  return derivationPathFromAterm(printDerivation(drv), drv, storeDir);
}

/** derivationPath when the ATerm text is already at hand (it must be printDerivation(drv)). */
export function derivationPathFromAterm(aterm: string, drv: Derivation, storeDir = DEFAULT_STORE_DIR): string {
  const references = mergeSorted(sortedUniqueAscii(drv.inputSrcs), sortedUniqueAscii(Object.keys(drv.inputDrvs)));
  return makeTextPath(derivationName(drv) + '.drv', sha256Hex(aterm), references, storeDir);
}

/** The sorted union of two sorted lists of store paths (a .drv can be both an inputSrc and an inputDrv). */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (out.length === 0 || out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

/**
 * 'deferred' when an output path cannot be known before building (a floating CA or impure derivation
 * somewhere among the inputs, or the derivation itself).
 */
export interface DrvHash {
  kind: 'regular' | 'deferred';
  hashes: Record<string, string>;
}

/** Finds an input derivation by its drvPath; throws NixError 'NOT_A_DERIVATION' when it is unknown. */
export type DrvLookup = (drvPath: string) => Derivation;

/** A DrvLookup over an in-memory graph (drvPath -> Derivation). */
export function lookupIn(graph: Record<string, Derivation> | Map<string, Derivation>): DrvLookup {
  return (drvPath) => {
    const drv = graph instanceof Map ? graph.get(drvPath) : Object.prototype.hasOwnProperty.call(graph, drvPath) ? graph[drvPath] : undefined;
    if (drv === undefined) throw new NixError('NOT_A_DERIVATION', `unknown derivation '${drvPath}'`, { drvPath });
    return drv;
  };
}

export interface HashOptions {
  /** the hash modulo of input derivations by drvPath (Nix's drvHashes); reuse it across calls */
  cache?: Map<string, DrvHash>;
  storeDir?: string;
}

const IMPURE_OUTPUT_HASH = sha256Hex('impure');

function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** The path of a fixed output, computed as Nix does (it never trusts the path written in the .drv). */
function fixedOutputPath(drv: Derivation, outputName: string, out: DerivationOutput, storeDir: string): string {
  const ca = outputContentAddressing(out);
  if (ca === null || ca.hash === undefined) throw new NixError('INVALID_DERIVATION', `output '${outputName}' is not fixed`);
  return makeFixedOutputPath(outputPathName(derivationName(drv), outputName), ca.method, ca.hashAlgo, ca.hash, [], storeDir);
}

/**
 * The .drv text with its inputDrvs list replaced by `inputs`. Nothing before that list (outputs: names,
 * store paths, hash algorithms, hex) can contain "],[", so its first two occurrences delimit it.
 */
function spliceInputs(aterm: string, inputs: string): string {
  const start = aterm.indexOf('],[') + 3;
  const end = aterm.indexOf('],[', start);
  if (start < 3 || end < 0) throw new NixError('INVALID_DERIVATION', 'the given ATerm text is not a printed derivation');
  return aterm.slice(0, start) + inputs + aterm.slice(end);
}

/** One step of hashDerivationModulo; every input drv must already be in `cache`. */
function hashOne(
  drv: Derivation,
  type: DerivationType,
  inputPaths: string[],
  maskOutputs: boolean,
  cache: Map<string, DrvHash>,
  storeDir: string,
  aterm?: string,
): DrvHash {
  // a plain object: small and fast for the few output names; "__proto__" goes through defineProperty
  const hashes: Record<string, string> = {};
  if (type === 'fixed') {
    const out = drv.outputs.out;
    const path = fixedOutputPath(drv, 'out', out, storeDir);
    hashes.out = sha256Hex(`fixed:out:${out.hashAlgo}:${out.hash}:${path}`);
    return { kind: 'regular', hashes };
  }
  if (type === 'impure') {
    for (const name of Object.keys(drv.outputs)) setOwn(hashes, name, IMPURE_OUTPUT_HASH);
    return { kind: 'deferred', hashes };
  }
  let kind: DrvHash['kind'] = type === 'floating' ? 'deferred' : 'regular';
  // input drvs are replaced by their hash modulo; inputs with equal hashes merge their output names
  const actualInputs: Array<[string, string[]]> = [];
  for (const drvPath of inputPaths) {
    const res = cache.get(drvPath) as DrvHash;
    if (res.kind === 'deferred') kind = 'deferred';
    const outputNames = drv.inputDrvs[drvPath];
    for (let k = 0; k < outputNames.length; k++) {
      const outputName = outputNames[k];
      const h = Object.prototype.hasOwnProperty.call(res.hashes, outputName) ? res.hashes[outputName] : undefined;
      if (h === undefined) {
        throw new NixError('INVALID_DERIVATION', `no hash for output '${outputName}' of input derivation '${drvPath}'`, { drvPath, outputName });
      }
      let j = 0;
      while (j < actualInputs.length && actualInputs[j][0] !== h) j++;
      if (j === actualInputs.length) actualInputs.push([h, [outputName]]);
      else if (!actualInputs[j][1].includes(outputName)) actualInputs[j][1].push(outputName);
    }
  }
  actualInputs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const entry of actualInputs) if (entry[1].length > 1) entry[1] = sortedByUtf8(entry[1]);
  const text = aterm !== undefined && !maskOutputs ? spliceInputs(aterm, printInputs(actualInputs)) : unparseDerivation(drv, maskOutputs, actualInputs);
  const hash = sha256Hex(text);
  for (const name of Object.keys(drv.outputs)) setOwn(hashes, name, hash);
  return { kind, hashes };
}

/**
 * Fills `cache` with the hash modulo of every input derivation reachable from `roots`, depth first without
 * recursion (real graphs are deep). A derivation reachable from itself throws NixError 'CYCLE'.
 */
function hashInputs(roots: string[], lookup: DrvLookup, cache: Map<string, DrvHash>, storeDir: string): void {
  interface Frame {
    drvPath: string;
    drv: Derivation;
    inputs: string[];
    next: number;
  }
  const stack: Frame[] = [];
  const onStack = new Set<string>();
  const push = (drvPath: string): void => {
    const drv = lookup(drvPath);
    stack.push({ drvPath, drv, inputs: Object.keys(drv.inputDrvs), next: 0 });
    onStack.add(drvPath);
  };
  if (roots.every((root) => cache.has(root))) return;
  for (const root of roots) {
    if (cache.has(root)) continue;
    push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.inputs.length) {
        const input = top.inputs[top.next++];
        if (cache.has(input)) continue;
        if (onStack.has(input)) {
          const cycle = stack.slice(stack.findIndex((f) => f.drvPath === input)).map((f) => f.drvPath);
          throw new NixError('CYCLE', `derivation '${input}' depends on itself: ${[...cycle, input].join(' -> ')}`, { cycle });
        }
        push(input);
      } else {
        stack.pop();
        onStack.delete(top.drvPath);
        cache.set(top.drvPath, hashOne(top.drv, derivationType(top.drv), top.inputs, false, cache, storeDir));
      }
    }
  }
}

/**
 * Nix's hashDerivationModulo: the hash that input-addressed output paths are made from, with every input
 * derivation replaced by its own hash modulo (so a fixed-output input counts only by its output hash).
 * `maskOutputs` blanks this derivation's output paths first, as when computing them. `aterm`, when the
 * caller has printDerivation(drv) at hand (e.g. the text it parsed), spares printing it again.
 */
export function hashDerivationModulo(
  drv: Derivation,
  lookup: DrvLookup,
  opts: HashOptions & { maskOutputs?: boolean; aterm?: string } = {},
): DrvHash {
  const cache = opts.cache ?? new Map<string, DrvHash>();
  const storeDir = opts.storeDir ?? DEFAULT_STORE_DIR;
  const type = derivationType(drv);
  const inputPaths = Object.keys(drv.inputDrvs);
  if (type !== 'fixed') hashInputs(inputPaths, lookup, cache, storeDir);
  return hashOne(drv, type, inputPaths, opts.maskOutputs ?? false, cache, storeDir, opts.aterm);
}

/**
 * The output paths Nix computes for this derivation; null where the path is unknown until it is built
 * (floating CA, impure) or its inputs are resolved (deferred).
 */
export function outputPaths(drv: Derivation, lookup: DrvLookup, opts: HashOptions = {}): Record<string, string | null> {
  const storeDir = opts.storeDir ?? DEFAULT_STORE_DIR;
  const type = derivationType(drv);
  const paths = dict<string | null>();
  const names = Object.keys(drv.outputs);
  if (type === 'fixed') {
    paths.out = fixedOutputPath(drv, 'out', drv.outputs.out, storeDir);
  } else if (type === 'input-addressed') {
    const h = hashDerivationModulo(drv, lookup, { ...opts, maskOutputs: true });
    const drvName = derivationName(drv);
    for (const name of names) paths[name] = h.kind === 'regular' ? makeOutputPath(name, h.hashes[name], drvName, storeDir) : null;
  } else {
    for (const name of names) paths[name] = null;
  }
  return paths;
}

/**
 * What `derivation` (primops.cc derivationStrict) does once the attributes are set: fixed outputs get their
 * path; floating CA and impure outputs get hashPlaceholder in env; input-addressed outputs are masked,
 * hashed modulo and given their paths, or left deferred (empty) when an input is content-addressed.
 * Returns a new derivation; the argument is not modified.
 */
export function fillOutputPaths(drv: Derivation, lookup: DrvLookup, opts: HashOptions = {}): Derivation {
  const storeDir = opts.storeDir ?? DEFAULT_STORE_DIR;
  const type = derivationType(drv);
  const env: Record<string, string> = Object.assign(dict<string>(), drv.env);
  const outputs = dict<DerivationOutput>();
  const names = Object.keys(drv.outputs);
  const filled: Derivation = { ...drv, outputs, env };
  if (type === 'fixed') {
    const out = drv.outputs.out;
    const path = fixedOutputPath(drv, 'out', out, storeDir);
    outputs.out = { path, hashAlgo: out.hashAlgo, hash: out.hash };
    env.out = path;
  } else if (type === 'floating' || type === 'impure') {
    for (const name of names) {
      outputs[name] = { ...drv.outputs[name], path: '' };
      env[name] = hashPlaceholder(name);
    }
  } else {
    for (const name of names) {
      outputs[name] = { path: '', hashAlgo: '', hash: '' };
      env[name] = '';
    }
    const h = hashDerivationModulo(filled, lookup, { ...opts, maskOutputs: true });
    if (h.kind === 'regular') {
      const drvName = derivationName(drv);
      for (const name of names) {
        const path = makeOutputPath(name, h.hashes[name], drvName, storeDir);
        outputs[name] = { path, hashAlgo: '', hash: '' };
        env[name] = path;
      }
    }
  }
  return filled;
}
