/**
 * Placeholders Nix puts into a derivation where a path is not known at evaluation time
 * (derivations.cc hashPlaceholder / downstreamPlaceholder, Nix 2.8).
 */
import { nixBase32Encode } from './base32';
import { NixError } from './errors';
import { DEFAULT_STORE_DIR, outputPathName, parseStorePath, sha256 } from './store-path';

function placeholderOf(clearText: string): string {
  return '/' + nixBase32Encode(sha256(clearText));
}

/** Stands for this derivation's own output in its env (floating CA and impure outputs). */
export function hashPlaceholder(outputName: string): string {
  return placeholderOf('nix-output:' + outputName);
}

/**
 * Stands for an output of an input derivation whose path is unknown until it is built (a CA input);
 * resolution replaces it by the realised path.
 */
export function downstreamPlaceholder(drvPath: string, outputName: string, storeDir = DEFAULT_STORE_DIR): string {
  const { hashPart, name } = parseStorePath(drvPath, storeDir);
  if (!name.endsWith('.drv')) throw new NixError('NOT_A_DERIVATION', `'${drvPath}' is not a .drv path`, { drvPath });
  const drvName = name.slice(0, -4);
  return placeholderOf(`nix-upstream-output:${hashPart}:${outputPathName(drvName, outputName)}`);
}
