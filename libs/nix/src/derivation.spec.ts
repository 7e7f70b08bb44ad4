import fc from 'fast-check';
import { Derivation, DerivationOutput, compareUtf8, derivationName, derivationType, outputContentAddressing, sortedByUtf8 } from './derivation';
import { NixError } from './errors';
import { makeTextPath } from './store-path';

const path = makeTextPath('x', '4'.repeat(64), []);
const ia: DerivationOutput = { path, hashAlgo: '', hash: '' };
const deferred: DerivationOutput = { path: '', hashAlgo: '', hash: '' };
const fixed: DerivationOutput = { path, hashAlgo: 'r:sha256', hash: 'a'.repeat(64) };
const floating: DerivationOutput = { path: '', hashAlgo: 'sha256', hash: '' };
const impure: DerivationOutput = { path: '', hashAlgo: 'r:sha256', hash: 'impure' };

function drvWith(outputs: Record<string, DerivationOutput>, env: Record<string, string> = { name: 'x' }): Derivation {
  return { outputs, inputDrvs: {}, inputSrcs: [], system: 's', builder: '/bin/sh', args: [], env };
}

describe('the derivation model', () => {
  it('orders strings by their UTF-8 bytes, as Nix sorts its maps, for any text including non-BMP characters', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', 'é', '\uff21', '\ue000', '😀', '\u{10ffff}', '\u0001'), maxLength: 6 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 12 }), (keys) => {
        const byBytes = [...new Set(keys)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        expect(sortedByUtf8(keys)).toEqual(byBytes);
        for (let i = 1; i < byBytes.length; i++) expect(compareUtf8(byBytes[i - 1], byBytes[i])).toBeLessThan(0);
      }),
      { numRuns: 300 },
    );
    // UTF-16 puts the emoji (a surrogate pair) before U+FF21; UTF-8 bytes put it after
    expect(['😀', 'Ａ'].sort()).toEqual(['😀', 'Ａ']);
    expect(sortedByUtf8(['😀', 'Ａ'])).toEqual(['Ａ', '😀']);
  });

  it('classifies a derivation by its outputs, as Nix does', () => {
    expect(derivationType(drvWith({ out: ia, dev: ia }))).toBe('input-addressed');
    expect(derivationType(drvWith({ out: deferred, dev: deferred }))).toBe('deferred');
    expect(derivationType(drvWith({ out: fixed }))).toBe('fixed');
    expect(derivationType(drvWith({ out: floating, dev: floating }))).toBe('floating');
    expect(derivationType(drvWith({ out: impure }))).toBe('impure');
  });

  it.each([
    ['no outputs', {}, /at least one output/],
    ['mixed kinds', { out: ia, dev: deferred }, /can't mix/],
    ['two fixed outputs', { out: fixed, dev: fixed }, /only one fixed output/],
    ['a fixed output not named out', { src: fixed }, /must be named "out"/],
    ['floating outputs with different algorithms', { out: floating, dev: { ...floating, hashAlgo: 'r:sha512' } }, /same hash type/],
    ['an unknown algorithm', { out: { ...floating, hashAlgo: 'crc32' } }, /unknown hash algorithm/],
    ['a hash of the wrong length', { out: { ...fixed, hash: 'abc' } }, /64 lowercase hex/],
    ['a hash without an algorithm', { out: { ...ia, hash: 'a'.repeat(64) } }, /must name its hash algorithm/],
  ])('refuses %s with INVALID_DERIVATION', (_what, outputs, message) => {
    expect(() => derivationType(drvWith(outputs as Record<string, DerivationOutput>))).toThrow(message);
    try {
      derivationType(drvWith(outputs as Record<string, DerivationOutput>));
    } catch (err) {
      expect((err as NixError).code).toBe('INVALID_DERIVATION');
    }
  });

  it('reads the content addressing of an output: method, algorithm and (fixed only) hash', () => {
    expect(outputContentAddressing(ia)).toBeNull();
    expect(outputContentAddressing(deferred)).toBeNull();
    expect(outputContentAddressing(fixed)).toEqual({ method: 'nar', hashAlgo: 'sha256', hash: 'a'.repeat(64) });
    expect(outputContentAddressing({ ...fixed, hashAlgo: 'sha1', hash: 'b'.repeat(40) })).toEqual({ method: 'flat', hashAlgo: 'sha1', hash: 'b'.repeat(40) });
    expect(outputContentAddressing({ ...floating, hashAlgo: 'text:sha256' })).toEqual({ method: 'text', hashAlgo: 'sha256' });
  });

  it('names a derivation by env.name, or by the name inside __json for structured attrs', () => {
    expect(derivationName(drvWith({ out: ia }, { name: 'hello-2.12' }))).toBe('hello-2.12');
    expect(derivationName(drvWith({ out: ia }, { __json: JSON.stringify({ name: 'structured', outputs: ['out'] }) }))).toBe('structured');
    expect(() => derivationName(drvWith({ out: ia }, {}))).toThrow(/no 'name'/);
    expect(() => derivationName(drvWith({ out: ia }, { __json: '{' }))).toThrow(/not valid JSON/);
  });
});
