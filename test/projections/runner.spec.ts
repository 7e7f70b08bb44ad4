/**
 * The projection runtime, with a toy read model (events counted per stream) over a real SQLite event
 * store: checkpoint and documents move together, a restart resumes without applying anything twice,
 * and a rebuild from position 0 gives the same digest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { openSqliteEventStore, type EventStore, type RecordedEvent } from '@buildgraph/eventstore';
import { ProjectionRunner, ReadStore, canonicalJson, type Projection } from '@buildgraph/projections';
import { SpillRuns } from '../../libs/projections/src/spill-runs';

interface Counted {
  stream: string;
  n: number;
  types: Record<string, number>;
}
type Toy = { stream: string; type: string };

const counter: Projection<Toy, Counted> = {
  name: 'counter',
  version: 1,
  keys: (e) => [e.stream],
  evolve: (doc, e) => ({
    stream: e.stream,
    n: (doc?.n ?? 0) + 1,
    types: { ...(doc?.types ?? {}), [e.type]: (doc?.types[e.type] ?? 0) + 1 },
  }),
};
const decode = (r: RecordedEvent): Toy => ({ stream: r.stream, type: r.type });
const STREAMS = ['group-a', 'group-b', 'group-c'];

let dir: string;
let store: EventStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bg-runner-'));
  store = await openSqliteEventStore(join(dir, 'events.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function appendSome(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await store.append(
      STREAMS[i % STREAMS.length],
      [{ id: uuidv4(), type: i % 2 ? 'Odd' : 'Even', data: { i }, metadata: {} }],
      'any',
    );
  }
}

function runner(readStore: ReadStore, opts: { flushEvery?: number } = {}): ProjectionRunner<Toy> {
  return new ProjectionRunner({
    events: store,
    readStore,
    projections: [counter],
    decode,
    flushEvery: opts.flushEvery,
    batchSize: 7,
  });
}

describe('projection runtime', () => {
  it('given a log, when caught up, then each document counts its stream and the checkpoint is the head', async () => {
    await appendSome(30);
    const rs = new ReadStore(join(dir, 'read.sqlite'));
    await runner(rs).catchUp();
    expect(rs.checkpoint('projections')).toBe(await store.headPosition());
    expect(rs.get<Counted>('counter', 'group-a')?.n).toBe(10);
    expect(rs.get<Counted>('counter', 'group-b')?.types).toEqual({ Even: 5, Odd: 5 });
    rs.close();
  });

  it('a restart resumes from the checkpoint and applies nothing twice', async () => {
    await appendSome(20);
    const path = join(dir, 'read.sqlite');
    let rs = new ReadStore(path);
    await runner(rs).catchUp();
    rs.close();
    await appendSome(10);
    rs = new ReadStore(path);
    const again = runner(rs);
    expect(again.position).toBe(20n);
    await again.catchUp();
    // the same batch handed twice (a redelivery) is ignored too
    const all: RecordedEvent[] = [];
    for await (const b of store.readAll()) all.push(...b);
    again.apply(all);
    again.flush();
    const total = STREAMS.reduce((n, s) => n + (rs.get<Counted>('counter', s)?.n ?? 0), 0);
    expect(total).toBe(30);
    rs.close();
  });

  it('rebuilding from position 0 into a fresh file gives the same digest as the live store', async () => {
    await appendSome(25);
    const live = new ReadStore(join(dir, 'live.sqlite'));
    const liveRunner = runner(live, { flushEvery: 3 });
    await liveRunner.start();
    await appendSome(25);
    while (liveRunner.position < (await store.headPosition())) await new Promise((r) => setTimeout(r, 10));
    await liveRunner.stop();
    const fresh = new ReadStore(join(dir, 'fresh.sqlite'), { bulk: true });
    await runner(fresh, { flushEvery: 1000 }).catchUp();
    expect(fresh.digests()).toEqual(live.digests());
    expect(Object.keys(fresh.digests())).toEqual(['counter']);
    live.close();
    fresh.close();
  });

  it('spill mode (replay): documents that left memory as sorted runs, deletions and keys beyond the BMP give the same rows and digests as ordinary commits', async () => {
    await appendSome(90);
    // keys whose UTF-16 order is not SQLite's byte order: U+E000..U+FFFF against surrogate pairs
    const odd = ['a', '\ue000', '\u{10000}', '\uffff', '\u{1f600}', 'z', '\u00e9'];
    const slot: Projection<Toy & { i: number }, { i: number; seen: number }> = {
      name: 'slot',
      version: 1,
      keys: (e) => [odd[e.i % odd.length] + String(e.i % 11)],
      // every fifth event deletes its document: a tombstone must shadow an older run's copy
      evolve: (doc, e) => (e.i % 5 === 0 ? undefined : { i: e.i, seen: (doc?.seen ?? 0) + 1 }),
    };
    const edges: Projection<Toy & { i: number }, { from: number }> = {
      name: 'edges',
      version: 1,
      blind: true,
      keys: (e) => [odd[(e.i * 3) % odd.length] + String(e.i % 13)],
      evolve: (_doc, e) => ({ from: e.i }),
    };
    const projections = [counter, slot, edges] as unknown as Projection<Toy & { i: number }, unknown>[];
    const decodeI = (r: RecordedEvent) => ({ ...decode(r), i: (r.data as { i: number }).i });
    const ordinary = new ReadStore(join(dir, 'ordinary.sqlite'));
    await new ProjectionRunner({
      events: store,
      readStore: ordinary,
      projections,
      decode: decodeI,
      flushEvery: 4,
      batchSize: 5,
    }).catchUp();
    const spilled = new ReadStore(join(dir, 'spilled.sqlite'), { bulk: true });
    const spill = new SpillRuns(join(dir, 'spilled.runs'));
    const runner = new ProjectionRunner({
      events: store,
      readStore: spilled,
      projections,
      decode: decodeI,
      spill,
      cacheSize: 6,
      batchSize: 5,
    });
    await runner.catchUp();
    expect(spill.count).toBeGreaterThan(3);
    spill.close();
    expect(runner.builtDigests).toEqual(ordinary.digests());
    expect(spilled.digests()).toEqual(ordinary.digests());
    expect(spilled.checkpoint('projections')).toBe(await store.headPosition());
    for (const model of ['counter', 'slot', 'edges'])
      expect([...spilled.scan(model)]).toEqual([...ordinary.scan(model)]);
    ordinary.close();
    spilled.close();
  });

  it('a projection that throws on an event records it as rejected and keeps going', async () => {
    await appendSome(4);
    const rs = new ReadStore(join(dir, 'read.sqlite'));
    const picky: Projection<Toy, Counted> = {
      ...counter,
      name: 'picky',
      evolve: (d, e, k, docs) =>
        e.type === 'Odd'
          ? (() => {
              throw new Error('odd!');
            })()
          : counter.evolve(d, e, k, docs),
    };
    await new ProjectionRunner({ events: store, readStore: rs, projections: [picky], decode }).catchUp();
    expect(rs.count('$rejected')).toBe(2);
    expect([...rs.scan<{ message: string }>('$rejected')][0][1].message).toBe('odd!');
    rs.close();
  });

  it('refuses to resume a store built by other projections', async () => {
    await appendSome(2);
    const rs = new ReadStore(join(dir, 'read.sqlite'));
    await runner(rs).catchUp();
    expect(
      () =>
        new ProjectionRunner({
          events: store,
          readStore: rs,
          projections: [{ ...counter, version: 2 }],
          decode,
        }),
    ).toThrow(expect.objectContaining({ code: 'READ_STORE_MISMATCH' }));
    rs.close();
  });

  it('serialises documents with sorted keys, whatever order they were built in', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ a: undefined, b: 'x' })).toBe(JSON.stringify({ b: 'x' }));
  });

  it('a file that is not a read store is refused with a code', () => {
    expect(() => new ReadStore(join(dir, 'events.sqlite'), { readonly: true })).toThrow(
      expect.objectContaining({ code: 'READ_STORE_CORRUPT' }),
    );
  });
});
