/**
 * A Bloom filter over document ids, for a read store that started empty: "definitely never written"
 * answers a cache miss without a query. False positives only cost a query; there are no false
 * negatives, because every id is added before it is written.
 */
export class KeyFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  /** 2^log2Bits bits (default 2^25 = 4 MiB, ~2% false positives at 4M ids with 3 probes). */
  constructor(log2Bits = 25) {
    this.bits = new Uint32Array(2 ** (log2Bits - 5));
    this.mask = 2 ** log2Bits - 1;
  }

  private static hash(seed: number, id: string): [number, number] {
    // FNV-1a, and a second hash from the same pass for double hashing
    let h1 = Math.imul(0x811c9dc5 ^ seed, 0x01000193);
    let h2 = 0x01000193 + seed;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 + c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    return [h1 >>> 0, (h2 | 1) >>> 0];
  }

  add(seed: number, id: string): void {
    const [a, b] = KeyFilter.hash(seed, id);
    for (let k = 0; k < 3; k++) {
      const bit = (a + k * b) & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    }
  }

  mayContain(seed: number, id: string): boolean {
    const [a, b] = KeyFilter.hash(seed, id);
    for (let k = 0; k < 3; k++) {
      const bit = (a + k * b) & this.mask;
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}
