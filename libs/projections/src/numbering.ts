/**
 * Strings numbered once, for the invalidation graph: drv paths, store paths and attempt ids become
 * integers, looked up by a slice of a larger string (an index key) without cutting it out.
 */
/**
 * Strings numbered in the order first seen, looked up by a slice of a larger string without cutting
 * it out (an index key holds three parts): an open-addressing table over an FNV-1a hash of the
 * UTF-16 units, each hit checked against the stored string. A Map keyed by freshly cut strings cost
 * a cut, a hash and young-generation garbage per key (366k for a stdenv).
 */
export class Numbering {
  readonly strings: string[] = [];
  private hashes = new Int32Array(0);
  private table = new Int32Array(1 << 10).fill(-1);
  private mask = (1 << 10) - 1;

  /** the number of text[start, end), numbered now if new */
  number(text: string, start: number, end: number): number {
    const h = hashOf(text, start, end);
    const len = end - start;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.table[slot];
      if (n < 0) {
        const id = this.strings.length;
        this.strings.push(start === 0 && end === text.length ? text : text.slice(start, end));
        if (id >= this.hashes.length) {
          const grown = new Int32Array(Math.max(1024, this.hashes.length * 2));
          grown.set(this.hashes);
          this.hashes = grown;
        }
        this.hashes[id] = h;
        this.table[slot] = id;
        if ((id + 1) * 2 > this.table.length) this.grow();
        return id;
      }
      if (this.hashes[n] === h) {
        const known = this.strings[n];
        if (known.length === len && text.startsWith(known, start)) return n;
      }
    }
  }

  /** the number of text[start, end), or -1 */
  find(text: string, start = 0, end = text.length): number {
    const h = hashOf(text, start, end);
    const len = end - start;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const n = this.table[slot];
      if (n < 0) return -1;
      if (this.hashes[n] === h) {
        const known = this.strings[n];
        if (known.length === len && text.startsWith(known, start)) return n;
      }
    }
  }

  private grow(): void {
    const size = this.table.length * 2;
    this.table = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let id = 0; id < this.strings.length; id++) {
      let slot = this.hashes[id] & this.mask;
      while (this.table[slot] >= 0) slot = (slot + 1) & this.mask;
      this.table[slot] = id;
    }
  }
}

/**
 * FNV-1a over at most 16 UTF-16 units of text[start, end): for a store path, from its hash part (past
 * `/nix/store/`), which is what tells paths apart. Any other string hashes as well, if less evenly;
 * equality is always checked on the whole string.
 */
function hashOf(text: string, start: number, end: number): number {
  const from = end - start > 27 ? start + 11 : start;
  const to = Math.min(end, from + 16);
  let h = 0x811c9dc5 | 0;
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h ^ (end - start);
}
