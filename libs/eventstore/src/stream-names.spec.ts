import fc from 'fast-check';
import { assertStreamName, drvStream, NIX_BASE32_ALPHABET, STREAM_NAME_MAX_LENGTH, streamCategory } from './stream-names';

const base32 = fc.constantFrom(...NIX_BASE32_ALPHABET.split(''));
const hashPart = fc.array(base32, { minLength: 32, maxLength: 32 }).map((cs) => cs.join(''));

describe('stream names', () => {
  it('every drv-<32 nix-base32 chars> is a drv stream', () => {
    fc.assert(fc.property(hashPart, (h) => streamCategory(`drv-${h}`) === 'drv' && drvStream(h) === `drv-${h}`));
  });

  it('group ids may be UUIDs and dotted names', () => {
    expect(streamCategory('group-3f2b0c1e-8a4d-4e8a-9c1f-2b7d9e0a1c55')).toBe('group');
    expect(streamCategory('group-hydra.eval_123')).toBe('group');
    expect(streamCategory('system-keys')).toBe('system');
  });

  it('no accepted name contains a character outside [A-Za-z0-9._-] or exceeds the maximum length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        for (const name of [s, `group-${s}`, `drv-${s}`, `system-${s}`]) {
          if (streamCategory(name) !== undefined) {
            expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
            expect(name.length).toBeLessThanOrEqual(STREAM_NAME_MAX_LENGTH);
          }
        }
      }),
    );
  });

  it('a refused name gets INVALID_STREAM with a reason a person can act on', () => {
    expect(() => assertStreamName('drv-abc')).toThrow(/32 nix-base32 characters/);
    expect(() => assertStreamName('$all')).toThrow(/must start with "drv-", "group-" or "system-"/);
    expect(() => assertStreamName(42)).toThrow(expect.objectContaining({ code: 'INVALID_STREAM' }));
  });
});
