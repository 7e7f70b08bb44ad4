/**
 * The derivation as plain data (like nix-compat): the seven fields of the ATerm, with each output kept as
 * the raw (path, hashAlgo, hash) triple Nix writes. Functions here classify that data the way
 * derivations.cc does (parseDerivationOutput, BasicDerivation::type).
 */
import { NixError } from './errors';
import { hashHexLength } from './store-path';

/** The raw ATerm triple; path is "" where Nix leaves it empty (floating CA, deferred, impure). */
export interface DerivationOutput {
  path: string;
  hashAlgo: string;
  hash: string;
}

export interface Derivation {
  outputs: Record<string, DerivationOutput>;
  /** input drv path -> names of the outputs used */
  inputDrvs: Record<string, string[]>;
  inputSrcs: string[];
  system: string;
  builder: string;
  args: string[];
  env: Record<string, string>;
}

export type DerivationType = 'input-addressed' | 'deferred' | 'fixed' | 'floating' | 'impure';

/** The kind of one output, read from its triple (derivations.cc parseDerivationOutput). */
export type OutputKind = 'input-addressed' | 'deferred' | 'fixed' | 'floating' | 'impure';

export interface OutputCA {
  method: 'flat' | 'nar' | 'text';
  hashAlgo: string;
  /** lowercase hex; fixed outputs only */
  hash?: string;
}

/** Why `hashAlgo` ("sha256", "r:sha256", "text:sha256") is not one Nix writes, or null. */
export function hashAlgoProblem(hashAlgo: string): string | null {
  const { method, algo } = splitMethod(hashAlgo);
  if (hashHexLength(algo) === undefined) return `unknown hash algorithm '${algo}'`;
  if (method === 'text' && algo !== 'sha256') return `text hashing requires sha256, not '${algo}'`;
  return null;
}

function splitMethod(hashAlgo: string): { method: OutputCA['method']; algo: string } {
  if (hashAlgo.startsWith('r:')) return { method: 'nar', algo: hashAlgo.slice(2) };
  if (hashAlgo.startsWith('text:')) return { method: 'text', algo: hashAlgo.slice(5) };
  return { method: 'flat', algo: hashAlgo };
}

/**
 * Classifies one output triple, or throws NixError 'INVALID_DERIVATION' naming the problem.
 * Store-path validity of `path` is the parser's job; a fixed output may lack its path until
 * fillOutputPaths computes it.
 */
export function outputKind(out: DerivationOutput): OutputKind {
  const problem = outputProblem(out);
  if (typeof problem === 'string') throw new NixError('INVALID_DERIVATION', problem);
  return problem.kind;
}

const KIND: Record<OutputKind, { kind: OutputKind }> = {
  'input-addressed': { kind: 'input-addressed' },
  deferred: { kind: 'deferred' },
  fixed: { kind: 'fixed' },
  floating: { kind: 'floating' },
  impure: { kind: 'impure' },
};

/** The output's kind, or a sentence saying why the triple is not one Nix writes. */
export function outputProblem(out: DerivationOutput): { kind: OutputKind } | string {
  if (out.hashAlgo === '') {
    if (out.hash !== '') return 'an output with a hash must name its hash algorithm';
    return out.path === '' ? KIND.deferred : KIND['input-addressed'];
  }
  const algoProblem = hashAlgoProblem(out.hashAlgo);
  if (algoProblem !== null) return algoProblem;
  if (out.hash === 'impure') {
    return out.path === '' ? KIND.impure : 'an impure output has no path';
  }
  if (out.hash === '') {
    return out.path === '' ? KIND.floating : 'a floating content-addressed output has no path';
  }
  const algo = splitMethod(out.hashAlgo).algo;
  const len = hashHexLength(algo) as number;
  if (out.hash.length !== len || !isLowerHex(out.hash)) return `the hash of a fixed output must be ${len} lowercase hex digits (${algo})`;
  return KIND.fixed;
}

function isLowerHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Content addressing of an output: null for input-addressed and deferred ones. */
export function outputContentAddressing(out: DerivationOutput): OutputCA | null {
  const kind = outputKind(out);
  if (kind === 'input-addressed' || kind === 'deferred') return null;
  const { method, algo } = splitMethod(out.hashAlgo);
  return kind === 'fixed' ? { method, hashAlgo: algo, hash: out.hash } : { method, hashAlgo: algo };
}

/**
 * The derivation's type (derivations.cc BasicDerivation::type): all outputs must be of one kind; a fixed
 * derivation has exactly one output, "out"; floating outputs share one hash algorithm.
 */
export function derivationType(drv: Derivation): DerivationType {
  const names = Object.keys(drv.outputs);
  if (names.length === 0) throw new NixError('INVALID_DERIVATION', 'a derivation must have at least one output');
  let type: OutputKind | undefined;
  let floatingAlgo: string | undefined;
  for (const name of names) {
    const out = drv.outputs[name];
    const kind = outputKind(out);
    if (type !== undefined && kind !== type) {
      throw new NixError('INVALID_DERIVATION', `can't mix derivation output types (output '${name}' is ${kind}, others are ${type})`);
    }
    type = kind;
    if (kind === 'floating') {
      if (floatingAlgo !== undefined && floatingAlgo !== out.hashAlgo) {
        throw new NixError('INVALID_DERIVATION', 'all floating outputs must use the same hash type');
      }
      floatingAlgo = out.hashAlgo;
    }
  }
  if (type === 'fixed') {
    if (names.length > 1) throw new NixError('INVALID_DERIVATION', 'only one fixed output is allowed');
    if (names[0] !== 'out') throw new NixError('INVALID_DERIVATION', 'single fixed output must be named "out"');
  }
  return type as DerivationType;
}

/**
 * The derivation's name, which Nix also uses for the .drv path and the output paths: env.name, or for
 * structured attrs (__structuredAttrs) the "name" inside env.__json.
 */
export function derivationName(drv: Derivation): string {
  let name: unknown = drv.env.name;
  if (name === undefined && typeof drv.env.__json === 'string') {
    try {
      name = (JSON.parse(drv.env.__json) as { name?: unknown }).name;
    } catch {
      throw new NixError('INVALID_DERIVATION', 'env.__json (structured attrs) is not valid JSON');
    }
  }
  if (typeof name !== 'string' || name === '') throw new NixError('INVALID_DERIVATION', "derivation has no 'name' in its environment");
  return name;
}

/**
 * Compares strings by their UTF-8 bytes, which is how Nix's std::map orders keys. JS `<` compares UTF-16
 * code units and disagrees only when surrogates meet U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // surrogates encode code points above U+FFFF: move them above the rest of the BMP
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** A code unit where UTF-16 order and UTF-8 byte order can disagree (surrogates and U+E000..U+FFFF). */
const HIGH_CODE_UNIT = /[\ud800-\uffff]/;

/** True when JS's native string order is UTF-8 byte order for all of `strings` (no code unit >= U+D800). */
export function nativeOrderIsUtf8(strings: readonly string[]): boolean {
  return !HIGH_CODE_UNIT.test(strings.join(''));
}

/** True when `text` has no code unit for which UTF-16 order and UTF-8 byte order disagree. */
export function textOrderIsUtf8(text: string): boolean {
  return !HIGH_CODE_UNIT.test(text);
}

/** `keys` sorted by UTF-8 bytes, without duplicates; the same array when already so (the common case). */
export function sortedByUtf8(keys: string[]): string[] {
  if (keys.length < 2) return keys;
  if (nativeOrderIsUtf8(keys)) {
    // the usual case: native comparisons are byte comparisons
    for (let i = 1; i < keys.length; i++) {
      if (!(keys[i - 1] < keys[i])) return [...new Set(keys)].sort();
    }
    return keys;
  }
  for (let i = 1; i < keys.length; i++) {
    if (compareUtf8(keys[i - 1], keys[i]) >= 0) return [...new Set(keys)].sort(compareUtf8);
  }
  return keys;
}
