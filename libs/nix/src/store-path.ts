/**
 * Store paths: parsing/validation (libstore path.cc) and the path computations of store-api.cc
 * (makeStorePath, makeTextPath, makeFixedOutputPath, makeOutputPath). Strings are hashed as UTF-8.
 */
import { hash } from 'node:crypto';
import { nixBase32Encode, isNixBase32Char } from './base32';
import { NixError } from './errors';

export const DEFAULT_STORE_DIR = '/nix/store';
/** Length of the hash part of a store path: 20 bytes in nix-base32. */
export const STORE_PATH_HASH_LENGTH = 32;
/** Longest name Nix accepts (path.cc checkName). */
export const STORE_PATH_NAME_MAX = 211;

export interface StorePath {
  hashPart: string;
  name: string;
}

// crypto.hash is the one-shot form: for .drv-sized inputs it avoids most of createHash's per-call cost
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

export function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

// Characters allowed in a store path name (path.cc checkName): [0-9a-zA-Z+-._?=].
const NAME_CHAR = new Uint8Array(128);
for (const c of '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-._?=') NAME_CHAR[c.charCodeAt(0)] = 1;

export function isStorePathNameChar(code: number): boolean {
  return code < 128 && NAME_CHAR[code] === 1;
}

/** Why `name` is not a valid store path name, or null if it is. */
export function storePathNameProblem(name: string): string | null {
  if (name.length === 0) return 'has an empty name';
  if (name.length > STORE_PATH_NAME_MAX) return `has a name longer than ${STORE_PATH_NAME_MAX} characters`;
  for (let i = 0; i < name.length; i++) {
    if (!isStorePathNameChar(name.charCodeAt(i))) return `contains illegal character '${name[i]}'`;
  }
  return null;
}

/** Why `baseName` ("<hash>-<name>") is not a valid store path base name, or null if it is. */
export function storePathBaseNameProblem(baseName: string): string | null {
  if (baseName.length < STORE_PATH_HASH_LENGTH + 1) return 'is too short to be a valid store path';
  for (let i = 0; i < STORE_PATH_HASH_LENGTH; i++) {
    if (!isNixBase32Char(baseName.charCodeAt(i))) return `has an invalid hash part (character '${baseName[i]}' is not nix-base32)`;
  }
  if (baseName.charCodeAt(STORE_PATH_HASH_LENGTH) !== 0x2d /* - */) return "has no '-' after its 32-character hash part";
  return storePathNameProblem(baseName.slice(STORE_PATH_HASH_LENGTH + 1));
}

/** Why `path` is not a store path directly under `storeDir`, or null if it is. No canonicalisation. */
export function storePathProblem(path: string, storeDir = DEFAULT_STORE_DIR): string | null {
  if (typeof path !== 'string') return 'is not a string';
  if (path.length <= storeDir.length + 1 || !path.startsWith(storeDir) || path.charCodeAt(storeDir.length) !== 0x2f) {
    return `is not in the Nix store '${storeDir}'`;
  }
  return storePathBaseNameProblem(path.slice(storeDir.length + 1));
}

export function parseStorePath(path: string, storeDir = DEFAULT_STORE_DIR): StorePath {
  const problem = storePathProblem(path, storeDir);
  if (problem !== null) throw new NixError('STORE_PATH', `store path '${path}' ${problem}`, { path });
  const base = storeDir.length + 1;
  return { hashPart: path.slice(base, base + STORE_PATH_HASH_LENGTH), name: path.slice(base + STORE_PATH_HASH_LENGTH + 1) };
}

export function isStorePath(path: string, storeDir = DEFAULT_STORE_DIR): boolean {
  return storePathProblem(path, storeDir) === null;
}

/** Nix's compressHash: XOR-fold a digest into `size` bytes. */
export function compressHash(hash: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < hash.length; i++) out[i % size] ^= hash[i];
  return out;
}

/**
 * Nix's makeStorePath: the hash part is the 160-bit fold of
 * sha256("<type>:sha256:<hashHex>:<storeDir>:<name>").
 */
export function makeStorePath(type: string, hashHex: string, name: string, storeDir = DEFAULT_STORE_DIR): string {
  const problem = storePathNameProblem(name);
  if (problem !== null) throw new NixError('STORE_PATH', `store path name '${name}' ${problem}`, { name });
  // join builds one flat string; a concatenation rope would be flattened again before hashing
  const digest = sha256([type, 'sha256', hashHex, storeDir, name].join(':'));
  return `${storeDir}/${nixBase32Encode(compressHash(digest, 20))}-${name}`;
}

/** Nix's makeType: the type followed by each reference (sorted, unique) and ":self" if self-referencing. */
function makeType(type: string, references: readonly string[], hasSelfReference = false): string {
  const refs = sortedUniqueAscii(references);
  const s = refs.length === 0 ? type : type + ':' + refs.join(':');
  return hasSelfReference ? s + ':self' : s;
}

/** Store paths are ASCII, so JS ordering is byte ordering here; sorted input (the usual case) is not copied. */
export function sortedUniqueAscii(paths: readonly string[]): readonly string[] {
  let sorted = true;
  for (let i = 1; i < paths.length && sorted; i++) sorted = paths[i - 1] < paths[i];
  if (sorted) return paths;
  const copy = [...paths].sort();
  return copy.filter((p, i) => i === 0 || p !== copy[i - 1]);
}

const HEX_LENGTH: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/** Hex digest length for a hash algorithm Nix knows, or undefined. */
export function hashHexLength(hashAlgo: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(HEX_LENGTH, hashAlgo) ? HEX_LENGTH[hashAlgo] : undefined;
}

function checkHash(hashAlgo: string, hashHex: string): void {
  const len = hashHexLength(hashAlgo);
  if (len === undefined) throw new NixError('HASH', `unknown hash algorithm '${hashAlgo}'`);
  if (hashHex.length !== len || !/^[0-9a-f]*$/.test(hashHex)) {
    throw new NixError('HASH', `'${hashHex}' is not a ${hashAlgo} hash in lowercase hex (${len} digits)`);
  }
}

/** Path of a text file added with these references (store-api.cc makeTextPath; the .drv files themselves). */
export function makeTextPath(name: string, textSha256Hex: string, references: string[], storeDir = DEFAULT_STORE_DIR): string {
  checkHash('sha256', textSha256Hex);
  return makeStorePath(makeType('text', references), textSha256Hex, name, storeDir);
}

/**
 * Path of a fixed output (store-api.cc makeFixedOutputPath). Recursive sha256 is a "source" path that may
 * have references; anything else hashes "fixed:out:<r:?><algo>:<hex>:" into an "output:out" path.
 * The 'text' method is the later Nix text-hashing (makeTextPath); Nix 2.8 itself has no such output.
 */
export function makeFixedOutputPath(
  name: string,
  method: 'flat' | 'nar' | 'text',
  hashAlgo: string,
  hashHex: string,
  references: string[] = [],
  storeDir = DEFAULT_STORE_DIR,
): string {
  checkHash(hashAlgo, hashHex);
  if (method === 'text') {
    if (hashAlgo !== 'sha256') throw new NixError('HASH', `text hashing requires sha256, not '${hashAlgo}'`);
    return makeTextPath(name, hashHex, references, storeDir);
  }
  if (method === 'nar' && hashAlgo === 'sha256') {
    return makeStorePath(makeType('source', references), hashHex, name, storeDir);
  }
  if (references.length > 0) {
    throw new NixError('STORE_PATH', `a fixed output hashed with ${method === 'nar' ? 'r:' : ''}${hashAlgo} cannot have references`);
  }
  const inner = sha256Hex(`fixed:out:${method === 'nar' ? 'r:' : ''}${hashAlgo}:${hashHex}:`);
  return makeStorePath('output:out', inner, name, storeDir);
}

/** "name" for output "out", "name-<output>" otherwise (derivations.cc outputPathName). */
export function outputPathName(drvName: string, outputName: string): string {
  return outputName === 'out' ? drvName : `${drvName}-${outputName}`;
}

/** Path of an input-addressed output (store-api.cc makeOutputPath). */
export function makeOutputPath(outputName: string, hashModuloHex: string, drvName: string, storeDir = DEFAULT_STORE_DIR): string {
  return makeStorePath(`output:${outputName}`, hashModuloHex, outputPathName(drvName, outputName), storeDir);
}
