/**
 * Nix's base-32 ("nix32"): its own alphabet (no e, o, u, t) and its own bit order, which reads the
 * bytes from the end, so it is not RFC 4648. Port of libutil hash.cc printHash32 / parse.
 */
import { NixError } from './errors';

export const NIX_BASE32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz';

const DIGIT_OF = new Int8Array(128).fill(-1);
for (let i = 0; i < NIX_BASE32_ALPHABET.length; i++) DIGIT_OF[NIX_BASE32_ALPHABET.charCodeAt(i)] = i;

/** Length of the base-32 text for `byteLength` bytes (Nix's hashLength32). */
export function nixBase32Length(byteLength: number): number {
  return byteLength === 0 ? 0 : Math.floor((byteLength * 8 - 1) / 5) + 1;
}

export function nixBase32Encode(bytes: Uint8Array): string {
  const len = nixBase32Length(bytes.length);
  let s = '';
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    const c = (bytes[i] >> j) | (i + 1 < bytes.length ? bytes[i + 1] << (8 - j) : 0);
    s += NIX_BASE32_ALPHABET[c & 0x1f];
  }
  return s;
}

/** True for a character of Nix's base-32 alphabet. */
export function isNixBase32Char(code: number): boolean {
  return code < 128 && DIGIT_OF[code] >= 0;
}

/**
 * Decodes Nix base-32. The byte length is the one whose encoding has exactly this many characters;
 * a length no byte count encodes to, a character outside the alphabet or set bits beyond the last byte
 * throw NixError 'BASE32'.
 */
export function nixBase32Decode(s: string): Buffer {
  if (typeof s !== 'string') throw new NixError('BASE32', 'nix-base32 text must be a string');
  const size = Math.floor((s.length * 5) / 8);
  if (nixBase32Length(size) !== s.length) {
    throw new NixError('BASE32', `invalid nix-base32 length ${s.length}: no byte string encodes to that many characters`);
  }
  const out = Buffer.alloc(size);
  for (let n = 0; n < s.length; n++) {
    const code = s.charCodeAt(s.length - n - 1);
    const digit = code < 128 ? DIGIT_OF[code] : -1;
    if (digit < 0) {
      throw new NixError('BASE32', `invalid nix-base32 character '${s[s.length - n - 1]}' at index ${s.length - n - 1}`);
    }
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    out[i] |= (digit << j) & 0xff;
    const carry = digit >> (8 - j);
    if (i + 1 < size) out[i + 1] |= carry;
    else if (carry !== 0) throw new NixError('BASE32', `invalid nix-base32 string '${s}': bits set beyond the last byte`);
  }
  return out;
}
