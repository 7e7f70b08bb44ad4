/** Checks of reported outputs, input realisations and FOD hashes against the registered derivation. */
import {
  nixBase32Decode,
  nixBase32Length,
  outputContentAddressing,
  outputPathName,
  parseStorePath,
} from '@buildgraph/nix';
import { DerivationRegistered, InputRealisations } from '../events/types';
import { DomainError } from '../result';

function invalidArg(field: string, message: string, details: Record<string, unknown> = {}): DomainError {
  return { code: 'INVALID_ARGUMENT', message: `${field}: ${message}`, details: { field, ...details } };
}

/**
 * A success must name exactly the drv's outputs; each path must carry the output's name as Nix derives it,
 * and where the .drv already fixes the path (input-addressed, fixed-output), be that path.
 */
export function outputsProblem(
  registered: DerivationRegistered,
  outputs: Record<string, string>,
): DomainError | null {
  const expected = Object.keys(registered.data.outputs).sort();
  const got = Object.keys(outputs).sort();
  const missing = expected.filter((o) => !got.includes(o));
  const unknown = got.filter((o) => !expected.includes(o));
  if (missing.length > 0 || unknown.length > 0) {
    return invalidArg('outputs', `must name exactly the derivation's outputs (${expected.join(', ')})`, {
      missing,
      unknown,
    });
  }
  for (const name of expected) {
    const path = outputs[name];
    const known = registered.data.outputs[name].path;
    if (known !== '' && path !== known) {
      return invalidArg(`outputs.${name}`, `the derivation fixes this output's path to ${known}`, {
        expected: known,
        got: path,
      });
    }
    const wantName = outputPathName(registered.data.name, name);
    if (parseStorePath(path).name !== wantName) {
      return invalidArg(`outputs.${name}`, `a path for output '${name}' must be named '${wantName}'`, {
        got: path,
      });
    }
  }
  return null;
}

/** Keys must be `<inputDrv>^<output>` of the drv's own inputDrvs; `complete` also requires every one of them. */
export function inputRealisationsProblem(
  registered: DerivationRegistered,
  inputRealisations: InputRealisations,
  field: string,
  complete: boolean,
): DomainError | null {
  const wanted = new Set<string>();
  for (const [inputDrv, outs] of Object.entries(registered.data.inputDrvs))
    for (const o of outs) wanted.add(`${inputDrv}^${o}`);
  const unknown = Object.keys(inputRealisations).filter((k) => !wanted.has(k));
  if (unknown.length > 0) {
    return invalidArg(field, `names outputs that are not inputs of ${registered.data.drvPath}`, { unknown });
  }
  if (complete) {
    const missing = [...wanted].filter((k) => !(k in inputRealisations)).sort();
    if (missing.length > 0)
      return invalidArg(field, 'must give a store path for every input derivation output', { missing });
  }
  return null;
}

const DIGEST_BYTES: Record<string, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

/**
 * A hash as Nix prints it, `<algo>:<base16|nix32|base64>` or SRI `<algo>-<base64>`, as `<algo>:<base16>`;
 * null if it is none of those.
 */
export function normaliseHash(hash: string): string | null {
  const m = /^(md5|sha1|sha256|sha512)([:-])(.+)$/.exec(hash);
  if (!m) return null;
  const [, algo, sep, digest] = m;
  const bytes = DIGEST_BYTES[algo];
  let buf: Buffer | null = null;
  if (sep === ':' && digest.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(digest))
    buf = Buffer.from(digest, 'hex');
  else if (sep === ':' && digest.length === nixBase32Length(bytes)) {
    try {
      buf = nixBase32Decode(digest);
    } catch {
      return null;
    }
  } else if (/^[A-Za-z0-9+/]+={0,2}$/.test(digest) && digest.length === Math.ceil(bytes / 3) * 4) {
    buf = Buffer.from(digest, 'base64');
  }
  if (buf === null || buf.length !== bytes) return null;
  return `${algo}:${buf.toString('hex')}`;
}

/** The FOD's declared output hash as `<algo>:<base16>`, or null when the drv is not fixed-output. */
export function declaredFodHash(registered: DerivationRegistered): string | null {
  const names = Object.keys(registered.data.outputs);
  if (names.length !== 1 || names[0] !== 'out') return null;
  try {
    const ca = outputContentAddressing(registered.data.outputs.out);
    return ca?.hash ? `${ca.hashAlgo}:${ca.hash}` : null;
  } catch {
    return null;
  }
}
