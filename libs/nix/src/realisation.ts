/**
 * Realisation ids: which derivation output a realisation is for. Nix has used two forms:
 * "sha256:<hashModulo hex>!<output>" (DrvOutput::to_string, Nix 2.4+) and "<drvPath>^<output>"
 * (the derived-path form, which this project keys inputRealisations by).
 */
import { NixError } from './errors';
import { DEFAULT_STORE_DIR, storePathProblem } from './store-path';

export function realisationIdFromHash(hashModuloHex: string, outputName: string): string {
  return `sha256:${hashModuloHex}!${outputName}`;
}

export function realisationIdFromPath(drvPath: string, outputName: string): string {
  return `${drvPath}^${outputName}`;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function fail(id: string, why: string): never {
  throw new NixError('REALISATION_ID', `invalid realisation id '${id}': ${why}`, { id });
}

/** Parses either form; throws NixError 'REALISATION_ID' naming what is wrong. */
export function parseRealisationId(
  id: string,
  storeDir = DEFAULT_STORE_DIR,
): { drvPath: string; outputName: string } | { hashModulo: string; outputName: string } {
  if (typeof id !== 'string') return fail(String(id), 'not a string');
  const caret = id.indexOf('^');
  if (caret >= 0) {
    const drvPath = id.slice(0, caret);
    const outputName = id.slice(caret + 1);
    const problem = storePathProblem(drvPath, storeDir);
    if (problem !== null) fail(id, `'${drvPath}' ${problem}`);
    if (!drvPath.endsWith('.drv')) fail(id, `'${drvPath}' is not a .drv path`);
    if (outputName === '') fail(id, 'no output name after "^"');
    return { drvPath, outputName };
  }
  const bang = id.indexOf('!');
  if (bang < 0) fail(id, 'expected "<drvPath>^<output>" or "sha256:<hex>!<output>"');
  const hash = id.slice(0, bang);
  const outputName = id.slice(bang + 1);
  if (!hash.startsWith('sha256:') || !SHA256_HEX.test(hash.slice(7))) fail(id, 'expected "sha256:" and 64 lowercase hex digits before "!"');
  if (outputName === '') fail(id, 'no output name after "!"');
  return { hashModulo: hash.slice(7), outputName };
}
