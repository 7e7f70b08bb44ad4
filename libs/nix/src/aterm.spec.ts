import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describeWith } from '../../../test/support/env';
import { parseDerivation, printDerivation } from './aterm';
import { Derivation } from './derivation';
import { DrvParseError, NixError } from './errors';
import { derivationPath } from './hash';
import { makeTextPath } from './store-path';

const src = makeTextPath('src.tar', '1'.repeat(64), []);
const dep = makeTextPath('dep.drv', '2'.repeat(64), []);

const NAME_CHARS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-._?='.split('');
const BASE32 = '0123456789abcdfghijklmnpqrsvwxyz'.split('');
const HEX = '0123456789abcdef'.split('');
const storePathArb = (suffix = '') =>
  fc
    .tuple(fc.array(fc.constantFrom(...BASE32), { minLength: 32, maxLength: 32 }), fc.array(fc.constantFrom(...NAME_CHARS), { minLength: 1, maxLength: 40 }))
    .map(([h, n]) => `/nix/store/${h.join('')}-${n.join('')}${suffix}`);
const outputNameArb = fc.constantFrom('out', 'dev', 'lib', 'bin', 'doc', 'man', '__proto__', 'constructor');
/** Any text, including the characters Nix escapes, non-BMP characters and control characters. */
const textArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\r', '\t', 'é', '😀', '\u0001', '\uff21', '$', ' '), maxLength: 30 }),
);
const sortedUnique = <T extends string>(xs: T[]) => [...new Set(xs)].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.compare(Buffer.from(a), Buffer.from(b))));
const hexArb = (n: number) => fc.array(fc.constantFrom(...HEX), { minLength: n, maxLength: n }).map((h) => h.join(''));
const ALGOS: Record<string, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 };

/** Outputs of one kind, as Nix writes them. */
const outputsArb = fc.oneof(
  fc.uniqueArray(fc.tuple(outputNameArb, storePathArb()), { minLength: 1, maxLength: 4, selector: (t) => t[0] }).map((os) => os.map(([n, path]) => [n, { path, hashAlgo: '', hash: '' }] as const)),
  fc.uniqueArray(outputNameArb, { minLength: 1, maxLength: 4 }).map((ns) => ns.map((n) => [n, { path: '', hashAlgo: '', hash: '' }] as const)),
  fc
    .tuple(fc.constantFrom(...Object.keys(ALGOS)), fc.constantFrom('', 'r:'), storePathArb())
    .chain(([algo, method, path]) => hexArb(ALGOS[algo]).map((hash) => [['out', { path, hashAlgo: method + algo, hash }] as const])),
  fc
    .tuple(fc.uniqueArray(outputNameArb, { minLength: 1, maxLength: 3 }), fc.constantFrom('r:sha256', 'sha256', 'text:sha256', 'r:sha512'), fc.boolean())
    .map(([ns, hashAlgo, impure]) => ns.map((n) => [n, { path: '', hashAlgo, hash: impure ? 'impure' : '' }] as const)),
);

/** Any derivation Nix could write: canonical order, no duplicates, valid paths. */
function arbitraryDerivation(): fc.Arbitrary<Derivation> {
  return fc
    .record({
      outputs: outputsArb,
      inputDrvs: fc.array(fc.tuple(storePathArb('.drv'), fc.uniqueArray(outputNameArb, { maxLength: 3 })), { maxLength: 4 }),
      inputSrcs: fc.array(storePathArb(), { maxLength: 4 }),
      system: fc.string({ maxLength: 12 }).filter((s) => !s.includes('"') && !s.includes('\\')),
      builder: textArb,
      args: fc.array(textArb, { maxLength: 5 }),
      env: fc.array(fc.tuple(textArb, textArb), { maxLength: 8 }),
    })
    .map((r) => {
      const drv: Derivation = { outputs: {}, inputDrvs: {}, inputSrcs: sortedUnique(r.inputSrcs), system: r.system, builder: r.builder, args: r.args, env: {} };
      for (const [n, o] of [...r.outputs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) Object.defineProperty(drv.outputs, n, { value: { ...o }, enumerable: true, writable: true, configurable: true });
      for (const [p, ns] of r.inputDrvs) drv.inputDrvs[p] = sortedUnique(ns);
      for (const [k, v] of r.env) Object.defineProperty(drv.env, k, { value: v, enumerable: true, writable: true, configurable: true });
      return drv;
    });
}

/** A small, valid derivation written the way Nix writes it. */
function sample(): Derivation {
  return {
    outputs: { dev: { path: makeTextPath('x-dev', '3'.repeat(64), []), hashAlgo: '', hash: '' }, out: { path: makeTextPath('x', '4'.repeat(64), []), hashAlgo: '', hash: '' } },
    inputDrvs: { [dep]: ['dev', 'out'] },
    inputSrcs: [src],
    system: 'x86_64-linux',
    builder: '/bin/sh',
    args: ['-c', 'echo "é" \\ \n\t\r > $out', ''],
    env: { empty: '', name: 'x', Zed: 'upper', 'ü': 'umlaut 😀' },
  };
}

/** The parse error for `text`, which must be a DrvParseError. */
function parseError(text: string): DrvParseError {
  try {
    parseDerivation(text);
  } catch (err) {
    expect(err).toBeInstanceOf(DrvParseError);
    return err as DrvParseError;
  }
  throw new Error('the text was accepted');
}

/** UTF-8 byte offset of the first occurrence of `marker` in `text`. */
function byteOffsetOf(text: string, marker: string, from = 0): number {
  const at = text.indexOf(marker, from);
  expect(at).toBeGreaterThanOrEqual(0);
  return Buffer.byteLength(text.slice(0, at));
}

describe('ATerm: printing and parsing .drv text', () => {
  it('prints keys in byte order (as Nix does), whatever order the object has', () => {
    const text = printDerivation(sample());
    expect(text.indexOf('("Zed"')).toBeLessThan(text.indexOf('("empty"'));
    expect(text.indexOf('("name"')).toBeLessThan(text.indexOf('("ü"'));
    expect(text).toContain('"echo \\"é\\" \\\\ \\n\\t\\r > $out"');
  });

  it('gives back the same derivation and the same bytes, for any derivation Nix could write', () => {
    fc.assert(
      fc.property(arbitraryDerivation(), (drv) => {
        const text = printDerivation(drv);
        const parsed = parseDerivation(text);
        expect(parsed).toEqual(drv);
        expect(printDerivation(parsed)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('parses store paths under a configured store dir, and refuses /nix/store paths there', () => {
    const text = printDerivation(sample()).split('/nix/store/').join('/gnu/store/');
    expect(printDerivation(parseDerivation(text, { storeDir: '/gnu/store' }))).toBe(text);
    expect(() => parseDerivation(printDerivation(sample()), { storeDir: '/gnu/store' })).toThrow(/not in the Nix store '\/gnu\/store'/);
  });

  it('treats "__proto__" as an ordinary environment variable', () => {
    const drv = sample();
    const text = printDerivation(drv).replace('("empty",""),', '("__proto__","x"),("empty",""),');
    const parsed = parseDerivation(text);
    expect(Object.keys(parsed.env)).toContain('__proto__');
    expect(printDerivation(parsed)).toBe(text);
  });

  describe('refuses what Nix would not have written, naming it and its byte offset', () => {
    const text = printDerivation(sample());
    const cases: Array<[string, string, RegExp, (t: string) => number]> = [
      ['unsorted environment', text.replace('("Zed","upper"),', '').replace('("empty","")', '("empty",""),("Zed","upper")'), /out of order/, (t) => byteOffsetOf(t, '"Zed"')],
      ['a duplicate variable', text.replace('("empty",""),', '("empty",""),("empty",""),'), /duplicate environment variable 'empty'/, (t) => byteOffsetOf(t, '"empty"', t.indexOf('"empty"') + 1)],
      ['an escape Nix never writes', text.replace('umlaut', 'um\\xlaut'), /invalid escape/, (t) => byteOffsetOf(t, '\\x')],
      ['a raw newline', text.replace('umlaut', 'um\nlaut'), /raw newline/, (t) => byteOffsetOf(t, '\n')],
      ['text after the end', text + '\n', /unexpected text after/, (t) => Buffer.byteLength(t) - 1],
      ['a truncated text', text.slice(0, text.indexOf('umlaut')), /unterminated string/, (t) => Buffer.byteLength(t) - 1],
      ['a bad input source', text.replace(src, src.replace('/nix/store/', '/nix/store/e')), /input source .* invalid hash part/, (t) => byteOffsetOf(t, '/nix/store/e')],
      ['an input that is not a .drv', text.replace(dep, src), /does not end in \.drv/, (t) => byteOffsetOf(t, src)],
      ['unsorted output names', text.replace('["dev","out"]', '["out","dev"]'), /out of order/, (t) => byteOffsetOf(t, '"dev"]')],
      ['an escape in a store path', text.replace(src, src + '\\"'), /unexpected escape in input source/, (t) => byteOffsetOf(t, '\\"')],
      ['no outputs', 'Derive([],[],[],"x",' + text.slice(text.indexOf('"/bin/sh"')), /at least one output/, () => 'Derive(['.length],
      ['another term', text.replace('Derive(', 'DrvWithVersion('), /expected 'Derive\(\['/, () => 0],
    ];
    it.each(cases)('%s', (_what, bad, message, offset) => {
      const err = parseError(bad);
      expect(err.code).toBe('DRV_PARSE');
      expect(err.message).toMatch(message);
      expect(err.offset).toBe(offset(bad));
    });

    it('mixed output kinds, and fixed outputs other than a single "out"', () => {
      const fixed = '("out","' + src + '","sha256","' + 'a'.repeat(64) + '")';
      const withFixed = text.replace(/\("out","[^"]*","",""\)/, fixed);
      expect(parseError(withFixed).message).toMatch(/Nix never mixes them/);
      expect(parseError(withFixed.replace(/\("dev","[^"]*","",""\),/, '').replace('("out",', '("bin",')).message).toMatch(/exactly one output, "out"/);
      expect(parseError(text.replace('"x86_64-linux"', '"x86_64-linux').slice(0, 40)).code).toBe('DRV_PARSE');
    });
  });

  it('refuses to print a derivation whose unescaped fields would corrupt the .drv', () => {
    expect(() => printDerivation({ ...sample(), system: 'x"y' })).toThrow(NixError);
  });
});

describe('ATerm fuzzing: bad input gives a clean DrvParseError, never a crash or hang', () => {
  /** Parses `text`; if accepted it must round-trip byte-exactly, else fail with an in-range offset. */
  function parsesCleanly(text: string): void {
    let drv: Derivation;
    try {
      drv = parseDerivation(text);
    } catch (err) {
      expect(err).toBeInstanceOf(DrvParseError);
      const { offset } = err as DrvParseError;
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThanOrEqual(Buffer.byteLength(text));
      return;
    }
    expect(printDerivation(drv)).toBe(text);
  }

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => parsesCleanly(Buffer.from(bytes).toString('utf8'))),
      { numRuns: 500 },
    );
  });

  it('random text that starts like a derivation', () => {
    const piece = fc.constantFrom('Derive([', '(', ')', '[', ']', ',', '"', '\\', '\\n', 'out', '/nix/store/', 'x86_64-linux', '', 'r:sha256');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => parsesCleanly('Derive([' + pieces.join(''))),
      { numRuns: 500 },
    );
  });

  it('mutated real-shaped derivations: deleted, inserted, replaced and duplicated bytes', () => {
    const mutation = fc.record({
      kind: fc.constantFrom('delete', 'insert', 'replace', 'duplicate'),
      at: fc.nat(),
      len: fc.integer({ min: 1, max: 12 }),
      insert: fc.oneof(fc.constantFrom('"', '\\', ',', '(', ')', '[', ']', 'e', '\n', '😀', ''), fc.string({ maxLength: 4 })),
    });
    fc.assert(
      fc.property(arbitraryDerivation(), fc.array(mutation, { minLength: 1, maxLength: 3 }), (drv, mutations) => {
        let text = printDerivation(drv);
        for (const m of mutations) {
          const at = m.at % (text.length + 1);
          if (m.kind === 'delete') text = text.slice(0, at) + text.slice(at + m.len);
          else if (m.kind === 'insert') text = text.slice(0, at) + m.insert + text.slice(at);
          else if (m.kind === 'replace') text = text.slice(0, at) + m.insert + text.slice(at + m.len);
          else text = text.slice(0, at) + text.slice(at, at + m.len) + text.slice(at);
        }
        parsesCleanly(text);
      }),
      { numRuns: 1000 },
    );
  });

  it('large inputs with nothing to close them are refused in linear time (no backtracking)', () => {
    parsesCleanly('Derive([("out","' + 'a'.repeat(2_000_000));
    parsesCleanly('Derive([("out","","",""),'.repeat(1) + '('.repeat(1_000_000));
    parsesCleanly('Derive([],[],[],"x","' + '\\\\'.repeat(1_000_000));
  });
});

describeWith(['nix-instantiate'], 'ATerm agrees with Nix 2.8', () => {
  it('reads what nix-instantiate wrote and prints the same bytes, at the same .drv path', () => {
    const root = mkdtempSync(join(tmpdir(), 'bg-nix-aterm-'));
    try {
      const expr = `derivation {
        name = "tricky"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "out" "dev" "lib" ];
        args = [ "-c" "echo \\"q\\" \\\\ \\t \\r ü 😀" "" ];
        "Zed" = "Z"; "é" = "e"; "😀" = "emoji"; "Ａ" = "fullwidth"; empty = ""; nl = "a\\nb";
        src = builtins.toFile "s.txt" "hi";
      }`;
      const env = { ...process.env, NIX_REMOTE: `local?root=${root}` };
      const drvPath = execFileSync('nix-instantiate', ['-E', expr], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const text = readFileSync(join(root, drvPath), 'utf8');
      const drv = parseDerivation(text);
      expect(printDerivation(drv)).toBe(text);
      expect(derivationPath(drv)).toBe(drvPath);
      expect(Object.keys(drv.outputs)).toEqual(['dev', 'lib', 'out']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
