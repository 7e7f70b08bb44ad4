import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { compareUtf8 } from '@buildgraph/nix';

/** bytes buffered before a write(2), and read per read(2) when a run is scanned */
const WRITE_BUFFER = 1 << 20;
const READ_CHUNK = 1 << 16;
/** a record's header: model number, key bytes, json bytes (TOMBSTONE: deleted) */
const HEADER = 12;
const TOMBSTONE = 0xffffffff;

/**
 * Replay's overflow for documents that leave the runner's memory: each spill is one key-sorted run,
 * appended to a flat scratch file as length-prefixed records (model number, key, json: no b-tree, no
 * SQL, a write(2) per MB; measured against a SQLite rowid heap, docs/projections.md "Replay round 3").
 * A run's rows of one model are one byte range in key order. A newer run shadows older ones; a deletion
 * is a record without json (tombstone). At the end the runs and the documents still in memory are
 * merged into the read store in one sorted sweep. The file is scratch: removed on close.
 */
export class SpillRuns {
  private readonly fd: number;
  private closed = false;
  /** per run, oldest first: model -> [first byte, end byte) */
  private readonly runs: Map<string, [number, number]>[] = [];
  private readonly modelNumbers = new Map<string, number>();
  /** bytes in the file so far (every run is written out before `write` returns) */
  private size = 0;
  private buf = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  /** (model, key) hash -> numbers of the records written for indexed models (1-based: 0 is empty) */
  private readonly index = new IdIndex();
  /** record number -> its byte offset */
  private offsets = new Float64Array(1 << 16);
  private records = 0;
  private readonly scratch = { buf: Buffer.allocUnsafe(4096) };

  constructor(readonly path: string) {
    rmSync(path, { force: true });
    this.fd = openSync(path, 'w+');
  }

  /** How many runs were written. */
  get count(): number {
    return this.runs.length;
  }

  /**
   * Writes one run; `rows` must come sorted by (model, key), each key once (json null = deleted).
   * Rows marked `indexed` can be found again by `lookup`; the others only by the final merge (and `find`).
   */
  write(rows: Iterable<readonly [model: string, key: string, json: string | null, indexed: boolean]>): void {
    const ranges = new Map<string, [number, number]>();
    for (const [model, key, json, indexed] of rows) {
      const at = this.size + this.used;
      if (indexed) {
        const id = ++this.records;
        if (id >= this.offsets.length) {
          const grown = new Float64Array(this.offsets.length * 2);
          grown.set(this.offsets);
          this.offsets = grown;
        }
        this.offsets[id] = at;
        this.index.add(hashOf(model, key), id);
      }
      this.append(this.modelNumber(model), key, json);
      const range = ranges.get(model);
      if (range) range[1] = this.size + this.used;
      else ranges.set(model, [at, this.size + this.used]);
    }
    this.flushBuffer();
    this.runs.push(ranges);
  }

  private modelNumber(model: string): number {
    let n = this.modelNumbers.get(model);
    if (n === undefined) {
      n = this.modelNumbers.size;
      this.modelNumbers.set(model, n);
    }
    return n;
  }

  private append(model: number, key: string, json: string | null): void {
    // at most 3 UTF-8 bytes per UTF-16 unit
    const room = HEADER + 3 * (key.length + (json?.length ?? 0));
    if (this.used + room > this.buf.length) {
      this.flushBuffer();
      if (room > this.buf.length) this.buf = Buffer.allocUnsafe(room);
    }
    const buf = this.buf;
    const at = this.used;
    const keyBytes = buf.write(key, at + HEADER, 'utf8');
    const jsonBytes = json === null ? 0 : buf.write(json, at + HEADER + keyBytes, 'utf8');
    buf.writeUInt32LE(model, at);
    buf.writeUInt32LE(keyBytes, at + 4);
    buf.writeUInt32LE(json === null ? TOMBSTONE : jsonBytes, at + 8);
    this.used = at + HEADER + keyBytes + jsonBytes;
  }

  private flushBuffer(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done, this.size + done);
    this.size += this.used;
    this.used = 0;
  }

  /** The newest JSON written for an indexed document: undefined when never written, null when deleted. */
  lookup(model: string, key: string): string | null | undefined {
    const number = this.modelNumbers.get(model);
    if (number === undefined) return undefined;
    for (const id of this.index.candidates(hashOf(model, key))) {
      const row = this.readAt(this.offsets[id]);
      if (row[0] === number && row[1] === key) return row[2];
    }
    return undefined;
  }

  /** One record at a byte offset: [model number, key, json | null]. */
  private readAt(offset: number): [number, string, string | null] {
    let buf = this.scratch.buf;
    let got = readSync(this.fd, buf, 0, buf.length, offset);
    const keyBytes = buf.readUInt32LE(4);
    const jsonLength = buf.readUInt32LE(8);
    const length = HEADER + keyBytes + (jsonLength === TOMBSTONE ? 0 : jsonLength);
    if (length > got) {
      if (length > buf.length) buf = this.scratch.buf = Buffer.allocUnsafe(length * 2);
      got = readSync(this.fd, buf, 0, length, offset);
    }
    return [
      buf.readUInt32LE(0),
      buf.toString('utf8', HEADER, HEADER + keyBytes),
      jsonLength === TOMBSTONE ? null : buf.toString('utf8', HEADER + keyBytes, length),
    ];
  }

  /**
   * The newest JSON of a document in any run, for models the caller does not index (blind ones,
   * which replay never reads back): a scan of the model's ranges, newest run first; correct but slow.
   */
  find(model: string, key: string): string | null | undefined {
    for (const scan of this.scans(model)) {
      for (let n = scan.next(); !n.done; n = scan.next()) if (n.value[0] === key) return n.value[1];
    }
    return undefined;
  }

  /** The runs' rows of one model as [key, json], each run in key order, newest run first. */
  scans(model: string): Iterator<[string, string | null]>[] {
    const out: Iterator<[string, string | null]>[] = [];
    for (let run = this.runs.length - 1; run >= 0; run--) {
      const range = this.runs[run].get(model);
      if (range) out.push(this.scan(range[0], range[1]));
    }
    return out;
  }

  private *scan(from: number, to: number): Generator<[string, string | null]> {
    let buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, to - from));
    let pos = from; // file offset of buf[0]
    let filled = 0;
    let at = 0;
    while (pos + at < to) {
      // a whole record in the buffer?
      let length = -1;
      if (filled - at >= HEADER) {
        const jsonLength = buf.readUInt32LE(at + 8);
        length = HEADER + buf.readUInt32LE(at + 4) + (jsonLength === TOMBSTONE ? 0 : jsonLength);
      }
      if (length < 0 || filled - at < length) {
        // keep the partial record, read on after it (growing the buffer for a record larger than it)
        const rest = filled - at;
        const need = Math.max(length, HEADER);
        if (need > buf.length) {
          const grown = Buffer.allocUnsafe(need * 2);
          buf.copy(grown, 0, at, filled);
          buf = grown;
        } else buf.copy(buf, 0, at, filled);
        pos += at;
        at = 0;
        filled = rest;
        const want = Math.min(buf.length - filled, to - pos - filled);
        const got = readSync(this.fd, buf, filled, want, pos + filled);
        if (got <= 0) throw new Error(`spill runs ${this.path}: truncated at byte ${pos + filled}`);
        filled += got;
        continue;
      }
      const keyEnd = at + HEADER + buf.readUInt32LE(at + 4);
      const jsonLength = buf.readUInt32LE(at + 8);
      const key = buf.toString('utf8', at + HEADER, keyEnd);
      const json = jsonLength === TOMBSTONE ? null : buf.toString('utf8', keyEnd, at + length);
      at += length;
      yield [key, json];
    }
  }

  close(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.path, { force: true });
  }
}

/**
 * Merges key-sorted sources of one model into one key-sorted stream: where several sources hold a
 * key, the first source (the newest) wins; a null (deleted) winner is dropped.
 */
export function* mergeNewestFirst(
  sources: Iterator<readonly [string, string | null]>[],
  wide: boolean,
): Generator<[string, string]> {
  // a binary heap of source indexes ordered by (current key, source index)
  const heads: (readonly [string, string | null])[] = [];
  const heap: number[] = [];
  const less = (a: number, b: number): boolean => {
    const ka = heads[a][0];
    const kb = heads[b][0];
    if (ka === kb) return a < b;
    return wide ? compareKeys(ka, kb) < 0 : ka < kb;
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let s = 0; s < sources.length; s++) {
    const n = sources[s].next();
    heads[s] = n.done ? ['', null] : n.value;
    if (!n.done) heap.push(s);
  }
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  let last: string | undefined;
  while (heap.length > 0) {
    const s = heap[0];
    const [key, json] = heads[s];
    // the first time a key comes out it is from the newest source that has it
    if (key !== last) {
      last = key;
      if (json !== null) yield [key, json];
    }
    const n = sources[s].next();
    if (n.done) {
      const tail = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = tail;
        down(0);
      }
    } else {
      heads[s] = n.value;
      down(0);
    }
  }
}

/** True when a key has a character from U+D800 up, where UTF-16 order and SQLite's byte order differ. */
export function isWideKey(key: string): boolean {
  return WIDE.test(key);
}
const WIDE = /[\ud800-\uffff]/;

/**
 * SQLite's order for TEXT keys (BINARY: UTF-8 bytes, i.e. code points), the order Nix's std::map
 * keeps too. JavaScript's `<` compares UTF-16 units, which agrees except between a surrogate pair and
 * U+E000..U+FFFF: only keys with such characters (`isWideKey`) need this slower comparison.
 */
export const compareKeys: (a: string, b: string) => number = compareUtf8;

/** 32-bit FNV-1a of model and key, with a final mix so the low bits spread. */
function hashOf(model: string, key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < model.length; i++) h = Math.imul(h ^ model.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0, 0x01000193);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * hash -> row ids, open addressing in two typed arrays (8 bytes an entry: a million spilled documents
 * cost a few MB, where a Map of their keys would keep every key string alive). Equal hashes are
 * resolved by the caller, who reads the rows; a newer row for the same key is simply another entry.
 */
class IdIndex {
  private hashes = new Uint32Array(1 << 16);
  private ids = new Uint32Array(1 << 16);
  private size = 0;

  add(hash: number, id: number): void {
    if ((this.size + 1) * 2 > this.ids.length) this.grow();
    const mask = this.ids.length - 1;
    let i = hash & mask;
    while (this.ids[i] !== 0) i = (i + 1) & mask;
    this.hashes[i] = hash;
    this.ids[i] = id;
    this.size++;
  }

  /** Ids stored under this hash, newest first. */
  candidates(hash: number): number[] {
    const mask = this.ids.length - 1;
    const out: number[] = [];
    for (let i = hash & mask; this.ids[i] !== 0; i = (i + 1) & mask)
      if (this.hashes[i] === hash) out.push(this.ids[i]);
    return out.sort((a, b) => b - a);
  }

  private grow(): void {
    const { hashes, ids } = this;
    this.hashes = new Uint32Array(ids.length * 2);
    this.ids = new Uint32Array(ids.length * 2);
    this.size = 0;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== 0) this.add(hashes[i], ids[i]);
  }
}
