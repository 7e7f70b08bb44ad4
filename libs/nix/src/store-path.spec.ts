import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describeWith } from '../../../test/support/env';
import { nixBase32Encode } from './base32';
import { NixError } from './errors';
import {
  DEFAULT_STORE_DIR,
  STORE_PATH_NAME_MAX,
  isStorePath,
  makeFixedOutputPath,
  makeOutputPath,
  makeStorePath,
  makeTextPath,
  outputPathName,
  parseStorePath,
} from './store-path';

const hashPart = nixBase32Encode(createHash('sha256').update('a store path').digest().subarray(0, 20));

function storePathError(path: string, storeDir?: string): NixError {
  try {
    parseStorePath(path, storeDir);
  } catch (err) {
    return err as NixError;
  }
  throw new Error(`'${path}' was accepted`);
}

describe('store paths', () => {
  it('splits a store path into its 32-character hash part and its name', () => {
    expect(parseStorePath(`/nix/store/${hashPart}-hello-2.12.1`)).toEqual({ hashPart, name: 'hello-2.12.1' });
    expect(parseStorePath(`/gnu/store/${hashPart}-x.drv`, '/gnu/store')).toEqual({ hashPart, name: 'x.drv' });
    expect(DEFAULT_STORE_DIR).toBe('/nix/store');
  });

  it('refuses a path outside the store, or in another store dir, saying so', () => {
    expect(storePathError(`/tmp/${hashPart}-x`).message).toMatch(/not in the Nix store '\/nix\/store'/);
    expect(storePathError(`/nix/store/${hashPart}-x`, '/gnu/store').message).toMatch(/not in the Nix store '\/gnu\/store'/);
    expect(storePathError(`/nix/store/${hashPart}-x/bin/sh`).message).toMatch(/illegal character '\/'/);
    expect(storePathError(`/nix/store//${hashPart}-x`).code).toBe('STORE_PATH');
    expect(storePathError(undefined as unknown as string).message).toMatch(/not a string/);
  });

  it('refuses hash parts that are too short or use letters outside nix-base32', () => {
    expect(storePathError('/nix/store/abc-x').message).toMatch(/too short/);
    for (const c of ['e', 'o', 'u', 't', 'A']) {
      expect(storePathError(`/nix/store/${c}${hashPart.slice(1)}-x`).message).toMatch(/invalid hash part/);
    }
    expect(storePathError(`/nix/store/${hashPart}_x`).message).toMatch(/no '-'/);
  });

  it(`accepts names of up to ${STORE_PATH_NAME_MAX} characters from [0-9a-zA-Z+-._?=], and nothing else`, () => {
    expect(isStorePath(`/nix/store/${hashPart}-${'a'.repeat(STORE_PATH_NAME_MAX)}`)).toBe(true);
    expect(storePathError(`/nix/store/${hashPart}-${'a'.repeat(STORE_PATH_NAME_MAX + 1)}`).message).toMatch(/longer than 211/);
    expect(storePathError(`/nix/store/${hashPart}-`).message).toMatch(/empty name/);
    expect(isStorePath(`/nix/store/${hashPart}-A+b-c.d_e?f=g`)).toBe(true);
    for (const c of [' ', '/', '@', 'é', '~', '*']) expect(isStorePath(`/nix/store/${hashPart}-a${c}b`)).toBe(false);
  });

  it('every path makeStorePath produces parses back to its name (any valid name, any store dir)', () => {
    const nameChar = fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-._?='.split(''));
    fc.assert(
      fc.property(fc.array(nameChar, { minLength: 1, maxLength: 211 }), fc.constantFrom('/nix/store', '/gnu/store', '/tmp/s'), (chars, storeDir) => {
        const name = chars.join('');
        const path = makeStorePath('text', createHash('sha256').update(name).digest('hex'), name, storeDir);
        expect(parseStorePath(path, storeDir).name).toBe(name);
      }),
      { numRuns: 50 },
    );
  });

  it('names outputs other than "out" with a suffix, as Nix does', () => {
    expect(outputPathName('hello', 'out')).toBe('hello');
    expect(outputPathName('hello', 'dev')).toBe('hello-dev');
  });

  it('refuses to make a path with an invalid name or a malformed hash', () => {
    expect(() => makeTextPath('a b', 'f'.repeat(64), [])).toThrow(/illegal character ' '/);
    expect(() => makeFixedOutputPath('x', 'flat', 'sha256', 'abc')).toThrow(/64 digits/);
    expect(() => makeFixedOutputPath('x', 'flat', 'crc32', 'abc')).toThrow(/unknown hash algorithm/);
    expect(() => makeFixedOutputPath('x', 'flat', 'sha256', 'f'.repeat(64), [`/nix/store/${hashPart}-y`])).toThrow(/cannot have references/);
  });

  it('the order and repetition of references do not change a text path', () => {
    const a = `/nix/store/${hashPart}-a`;
    const b = makeTextPath('b', 'a'.repeat(64), []);
    expect(makeTextPath('t', 'c'.repeat(64), [a, b])).toBe(makeTextPath('t', 'c'.repeat(64), [b, a, b]));
  });
});

/** One `nix-instantiate --eval` (read-only, nothing is written to the store). */
function nixEval(expr: string): unknown {
  return JSON.parse(execFileSync('nix-instantiate', ['--eval', '--strict', '--json', '--readonly-mode', '-E', expr], { encoding: 'utf8' }));
}

describeWith(['nix-instantiate'], 'store paths agree with Nix 2.8', () => {
  const sha256Of = (s: string) => createHash('sha256').update(s).digest('hex');

  it('text files (builtins.toFile) get the paths Nix gives them, with and without references', () => {
    const [plain, withRef] = nixEval(
      'let a = builtins.toFile "a.sh" "echo \\"hi\\"\\n"; in [ a (builtins.toFile "b" "source ${a}") ]',
    ) as string[];
    expect(makeTextPath('a.sh', sha256Of('echo "hi"\n'), [])).toBe(plain);
    expect(makeTextPath('b', sha256Of(`source ${plain}`), [plain])).toBe(withRef);
  });

  it('fixed outputs get the paths Nix gives them: flat, recursive sha256 ("source"), recursive sha1, flat sha512', () => {
    const h256 = sha256Of('content');
    const h1 = createHash('sha1').update('content').digest('hex');
    const h512 = createHash('sha512').update('content').digest('hex');
    const fod = (name: string, mode: string, algo: string, hash: string) =>
      `(derivation { name = "${name}"; system = "x86_64-linux"; builder = "/bin/sh"; outputHashMode = "${mode}"; outputHashAlgo = "${algo}"; outputHash = "${hash}"; }).outPath`;
    const paths = nixEval(
      `[ ${fod('flat', 'flat', 'sha256', h256)} ${fod('nar', 'recursive', 'sha256', h256)} ${fod('nar1', 'recursive', 'sha1', h1)} ${fod('flat512', 'flat', 'sha512', h512)} ]`,
    ) as string[];
    expect([
      makeFixedOutputPath('flat', 'flat', 'sha256', h256),
      makeFixedOutputPath('nar', 'nar', 'sha256', h256),
      makeFixedOutputPath('nar1', 'nar', 'sha1', h1),
      makeFixedOutputPath('flat512', 'flat', 'sha512', h512),
    ]).toEqual(paths);
  });

  it('input-addressed outputs are "output:<name>" paths named after the derivation and output', () => {
    // the hash modulo itself is tested in hash.spec.ts; here only the path construction around it
    const h = sha256Of('modulo');
    expect(parseStorePath(makeOutputPath('dev', h, 'hello')).name).toBe('hello-dev');
    expect(makeOutputPath('out', h, 'hello')).toBe(makeStorePath('output:out', h, 'hello'));
  });
});
