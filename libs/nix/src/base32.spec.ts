import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describeWith } from '../../../test/support/env';
import { NIX_BASE32_ALPHABET, nixBase32Decode, nixBase32Encode, nixBase32Length } from './base32';
import { NixError } from './errors';

describe('nix-base32', () => {
  it('decoding what was encoded gives back the same bytes, for any byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(nixBase32Decode(nixBase32Encode(bytes)).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('encodes n bytes in ceil(8n/5) characters of the Nix alphabet (32 for a store path hash, 52 for sha256)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (bytes) => {
        const s = nixBase32Encode(bytes);
        expect(s.length).toBe(Math.ceil((bytes.length * 8) / 5));
        expect(s.length).toBe(nixBase32Length(bytes.length));
        expect([...s].every((c) => NIX_BASE32_ALPHABET.includes(c))).toBe(true);
      }),
    );
    expect(nixBase32Length(20)).toBe(32);
    expect(nixBase32Length(32)).toBe(52);
  });

  it('refuses the letters Nix left out of its alphabet (e, o, u, t) with a BASE32 error naming the character', () => {
    const valid = nixBase32Encode(createHash('sha256').update('x').digest());
    for (const bad of ['e', 'o', 'u', 't', 'A', '-']) {
      const s = bad + valid.slice(1);
      expect(() => nixBase32Decode(s)).toThrow(NixError);
      expect(() => nixBase32Decode(s)).toThrow(`'${bad}'`);
    }
  });

  it('refuses lengths that no byte string encodes to, and high bits beyond the last byte', () => {
    // 2 characters carry 10 bits: 1 byte needs only 2 characters, so 3 is impossible
    expect(() => nixBase32Decode('000')).toThrow(/length 3/);
    // the first character holds the top bits of the last byte; for 1 byte only 3 of its 5 bits exist
    expect(() => nixBase32Decode('z0')).toThrow(/beyond the last byte/);
    expect(nixBase32Decode('').length).toBe(0);
  });
});

describeWith(['nix-hash'], 'nix-base32 agrees with nix-hash', () => {
  it('prints a sha256 the way `nix-hash --to-base32` does, and reads it back', () => {
    for (const text of ['', 'abc', 'buildgraph']) {
      const digest = createHash('sha256').update(text).digest();
      const fromNix = execFileSync('nix-hash', ['--type', 'sha256', '--to-base32', digest.toString('hex')], { encoding: 'utf8' }).trim();
      expect(nixBase32Encode(digest)).toBe(fromNix);
      expect(nixBase32Decode(fromNix).equals(digest)).toBe(true);
    }
  });
});
