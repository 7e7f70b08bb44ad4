/**
 * The event-store contract: every adapter passes this same suite.
 * SQLite runs it in the normal test run (sqlite.spec.ts); EventStoreDB runs it via
 * `EVENTSTORE_URL=esdb://localhost:2113?tls=false npm run test:esdb` (esdb.esdb.spec.ts).
 * Tests only look at streams they create and at positions after the head they saw when they
 * started, so a shared, non-empty server works as well as a fresh file.
 */
import { randomUUID } from 'node:crypto';
import { isEventStoreError, WrongExpectedRevisionError, type EventData, type EventStore, type Position, type RecordedEvent } from '@buildgraph/eventstore';
import { crashSafety } from './crash';

export interface ContractOptions {
  /** A fresh store location that `openEventStore(url)` understands, for the crash test's child process. */
  crashUrl?: () => string;
  /** Open a store at `url` (the parent's view after the crash). */
  openUrl?: (url: string) => Promise<EventStore>;
}

export function event(type: string, data: unknown = {}, id: string = randomUUID()): EventData {
  return { id, type, data, metadata: { schema: 1, correlationId: id } };
}

export async function collect(iterable: AsyncIterable<RecordedEvent[]>): Promise<{ events: RecordedEvent[]; batches: number }> {
  const events: RecordedEvent[] = [];
  let batches = 0;
  for await (const batch of iterable) {
    batches++;
    events.push(...batch);
  }
  return { events, batches };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Waits for `predicate` to hold, polling; a subscription test's only clock is this bounded wait. */
async function until(predicate: () => boolean, what: string, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!predicate()) throw new Error(`gave up waiting for ${what}`);
}

export function eventStoreContract(name: string, open: () => Promise<EventStore>, close: (store: EventStore) => Promise<void>, options: ContractOptions = {}): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let run: string;
    let start: Position;
    const stream = (suffix: string) => `group-${run}-${suffix}`;

    beforeEach(async () => {
      store = await open();
      run = randomUUID().slice(0, 8);
      start = await store.headPosition();
    });
    afterEach(async () => {
      await close(store);
    });

    describe('appending and reading', () => {
      it('numbers a stream from revision 0 and reports the last revision and its global position', async () => {
        const first = await store.append(stream('a'), [event('GroupOpened'), event('GroupSucceeded')], 'no-stream');
        const second = await store.append(stream('a'), [event('GroupFailed')], first.nextRevision);
        const read = await store.readStream(stream('a'));
        expect(read.map((e) => [e.type, e.revision])).toEqual([
          ['GroupOpened', 0n],
          ['GroupSucceeded', 1n],
          ['GroupFailed', 2n],
        ]);
        expect(first.nextRevision).toBe(1n);
        expect(second.nextRevision).toBe(2n);
        expect(read[1].position).toBe(first.position);
        expect(read[2].position).toBe(second.position);
        expect(second.position).toBeGreaterThan(first.position);
        expect(first.position).toBeGreaterThan(start);
      });

      it('returns data and metadata as they were appended', async () => {
        const e = event('AttemptFailed', { status: 'PermanentFailure', exitCode: 1, log: { tail: 'ünïcödé\nline' }, transient: false });
        await store.append(stream('d'), [e], 'any');
        const [read] = await store.readStream(stream('d'));
        expect(read).toEqual({ ...e, stream: stream('d'), revision: 0n, position: read.position });
      });

      it('reads a stream from a revision, at most maxCount events, and nothing for an unknown stream', async () => {
        await store.append(stream('r'), [0, 1, 2, 3, 4].map((n) => event('Probe', { n })), 'no-stream');
        const page = await store.readStream(stream('r'), { fromRevision: 1n, maxCount: 2 });
        expect(page.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
        expect(await store.readStream(stream('never-written'))).toEqual([]);
      });

      it('keeps the global log in append order across streams, each append contiguous', async () => {
        const a1 = await store.append(stream('x'), [event('A'), event('A')], 'any');
        const b1 = await store.append(stream('y'), [event('B')], 'any');
        const a2 = await store.append(stream('x'), [event('A')], 'any');
        const { events } = await collect(store.readAll({ from: start, filter: { streamPrefixes: [`group-${run}-`] } }));
        expect(events.map((e) => `${e.stream.slice(-1)}${e.revision}`)).toEqual(['x0', 'x1', 'y0', 'x2']);
        expect(events.map((e) => e.position)).toEqual([...events.map((e) => e.position)].sort((p, q) => (p < q ? -1 : 1)));
        expect([events[1].position, events[2].position, events[3].position]).toEqual([a1.position, b1.position, a2.position]);
      });
    });

    describe('expected revision', () => {
      it('refuses no-stream on a stream that exists, naming its actual revision, and stores nothing', async () => {
        await store.append(stream('c'), [event('GroupOpened')], 'no-stream');
        const err = await rejection(store.append(stream('c'), [event('GroupOpened')], 'no-stream'));
        expect(err).toBeInstanceOf(WrongExpectedRevisionError);
        expect(err).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', stream: stream('c'), actual: 0n });
        expect(await store.readStream(stream('c'))).toHaveLength(1);
      });

      it('refuses a stale exact revision and an exact revision on a missing stream', async () => {
        const { nextRevision } = await store.append(stream('s'), [event('A'), event('B')], 'no-stream');
        expect(await rejection(store.append(stream('s'), [event('C')], nextRevision - 1n))).toMatchObject({ actual: 1n, expected: 0n });
        expect(await rejection(store.append(stream('missing'), [event('C')], 0n))).toMatchObject({ actual: 'no-stream' });
        await expect(store.append(stream('s'), [event('C')], nextRevision)).resolves.toMatchObject({ nextRevision: 2n });
      });

      it('any appends whatever the stream looks like', async () => {
        await store.append(stream('any'), [event('A')], 'any');
        await expect(store.append(stream('any'), [event('A')], 'any')).resolves.toMatchObject({ nextRevision: 1n });
      });

      it('lets exactly one of several concurrent writers with the same expected revision win', async () => {
        const { nextRevision } = await store.append(stream('race'), [event('GroupOpened')], 'no-stream');
        const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => store.append(stream('race'), [event('Member', { n })], nextRevision)));
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost.every((o) => isEventStoreError(o.reason, 'WRONG_EXPECTED_REVISION'))).toBe(true);
        expect(await store.readStream(stream('race'))).toHaveLength(2);
      });
    });

    describe('idempotent retries', () => {
      it('re-appending the same events is a no-op that returns the original result', async () => {
        const events = [event('AttemptStarted'), event('AttemptSucceeded')];
        const original = await store.append(stream('i'), events, 'no-stream');
        await expect(store.append(stream('i'), events, 'no-stream')).resolves.toEqual(original);
        await expect(store.append(stream('i'), events, 'any')).resolves.toEqual(original);
        expect(await store.readStream(stream('i'))).toHaveLength(2);
      });

      it('a retry after other events were appended still returns the original position', async () => {
        const retried = [event('ResultInvalidated')];
        const original = await store.append(stream('late'), retried, 'no-stream');
        await store.append(stream('late'), [event('FailureCleared')], original.nextRevision);
        await expect(store.append(stream('late'), retried, original.nextRevision)).resolves.toEqual(original);
        expect(await store.readStream(stream('late'))).toHaveLength(2);
      });

      it('refuses an append where only some ids are already stored, and stores none of it', async () => {
        const stored = event('A');
        await store.append(stream('p'), [stored], 'no-stream');
        const err = await rejection(store.append(stream('p'), [stored, event('B')], 'no-stream'));
        expect(err).toMatchObject({ code: 'DUPLICATE_EVENT_ID' });
        expect(await store.readStream(stream('p'))).toHaveLength(1);
      });
    });

    describe('appendMany', () => {
      it('appends to many streams in array order, each append contiguous, each answered as append would', async () => {
        const before = await store.append(stream('m1'), [event('A')], 'no-stream');
        const outcomes = await store.appendMany([
          { stream: stream('m1'), events: [event('B'), event('B')], expected: before.nextRevision },
          { stream: stream('m2'), events: [event('C')], expected: 'no-stream' },
          { stream: stream('m1'), events: [event('D')], expected: 'any' },
        ]);
        const { events } = await collect(store.readAll({ from: before.position, filter: { streamPrefixes: [`group-${run}-`] } }));
        expect(events.map((e) => `${e.stream.slice(-2)}:${e.revision}:${e.type}`)).toEqual(['m1:1:B', 'm1:2:B', 'm2:0:C', 'm1:3:D']);
        expect(outcomes).toEqual([
          { nextRevision: 2n, position: events[1].position },
          { nextRevision: 0n, position: events[2].position },
          { nextRevision: 3n, position: events[3].position },
        ]);
        await expect(store.appendMany([])).resolves.toEqual([]);
      });

      it('a conflicting append fails alone, in its place; a retried one answers with its original result', async () => {
        const retried = [event('ResultInvalidated')];
        const original = await store.append(stream('mr'), retried, 'no-stream');
        const outcomes = await store.appendMany([
          { stream: stream('mc'), events: [event('A')], expected: 5n },
          { stream: stream('mr'), events: retried, expected: 'any' },
          { stream: stream('mn'), events: [event('B')], expected: 'no-stream' },
        ]);
        expect(outcomes[0]).toBeInstanceOf(WrongExpectedRevisionError);
        expect(outcomes[0]).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 'no-stream' });
        expect(outcomes[1]).toEqual(original);
        expect(outcomes[2]).toMatchObject({ nextRevision: 0n });
        expect(await store.readStream(stream('mc'))).toHaveLength(0);
        expect(await store.readStream(stream('mr'))).toHaveLength(1);
        expect(await store.readStream(stream('mn'))).toHaveLength(1);
      });

      it('bad input in any append refuses the whole call, naming the append, and stores nothing', async () => {
        const err = await rejection(
          store.appendMany([
            { stream: stream('ok'), events: [event('A')], expected: 'any' },
            { stream: stream('bad'), events: [{ ...event('B'), id: 'not-a-uuid' }], expected: 'any' },
          ]),
        );
        expect(err).toMatchObject({ code: 'INVALID_EVENT', details: { append: 1 } });
        expect(await rejection(store.appendMany([{ stream: 'bad stream', events: [event('A')], expected: 'any' }]))).toMatchObject({ code: 'INVALID_STREAM' });
        expect(await store.readStream(stream('ok'))).toHaveLength(0);
      });

      it('follows appends already made and keeps them first in the log', async () => {
        const single = store.append(stream('q'), [event('First')], 'any');
        const many = store.appendMany([{ stream: stream('q'), events: [event('Second')], expected: 'any' }]);
        const [first, [second]] = await Promise.all([single, many]);
        expect(first.nextRevision).toBe(0n);
        expect(second).toMatchObject({ nextRevision: 1n });
        expect((await store.readStream(stream('q'))).map((e) => e.type)).toEqual(['First', 'Second']);
      });
    });

    describe('readAll', () => {
      async function seed(): Promise<void> {
        await store.append(stream('f1'), [event('GroupOpened'), event('GroupFailed')], 'any');
        await store.append(stream('f2'), [event('GroupOpened')], 'any');
        await store.append(stream('f1'), [event('GroupSucceeded')], 'any');
      }

      it('filters by stream prefix and by event type, together or apart', async () => {
        await seed();
        const mine = `group-${run}-`;
        const read = async (filter: { streamPrefixes?: string[]; eventTypes?: string[] }) =>
          (await collect(store.readAll({ from: start, filter: { streamPrefixes: [mine], ...filter } }))).events.map((e) => `${e.stream.slice(-2)}:${e.type}`);
        expect(await read({})).toEqual(['f1:GroupOpened', 'f1:GroupFailed', 'f2:GroupOpened', 'f1:GroupSucceeded']);
        expect(await read({ streamPrefixes: [`${mine}f2`] })).toEqual(['f2:GroupOpened']);
        expect(await read({ eventTypes: ['GroupOpened', 'GroupSucceeded'] })).toEqual(['f1:GroupOpened', 'f2:GroupOpened', 'f1:GroupSucceeded']);
        expect(await read({ streamPrefixes: [`${mine}f1`], eventTypes: ['GroupOpened'] })).toEqual(['f1:GroupOpened']);
      });

      it('reads strictly after `from`, up to and including `to`, in batches of batchSize', async () => {
        await seed();
        const filter = { streamPrefixes: [`group-${run}-`] };
        const all = (await collect(store.readAll({ from: start, filter }))).events;
        const after = await collect(store.readAll({ from: all[0].position, to: all[2].position, filter, batchSize: 1 }));
        expect(after.events.map((e) => e.id)).toEqual([all[1].id, all[2].id]);
        expect(after.batches).toBe(2);
        const rest = await collect(store.readAll({ from: all[3].position, filter }));
        expect(rest.events).toEqual([]);
      });
    });

    describe('subscribe', () => {
      it('catches up, then follows live appends, without gaps or duplicates', async () => {
        const before = [1, 2, 3].map((n) => event('Before', { n }));
        for (const e of before) await store.append(stream('sub'), [e], 'any');
        const seen: RecordedEvent[] = [];
        const sub = store.subscribe({ from: start, filter: { streamPrefixes: [`group-${run}-`] }, batchSize: 2 }, async (batch) => {
          seen.push(...batch);
        });
        // Appended while the subscription is still catching up, and after it is live.
        const during = [4, 5, 6, 7, 8].map((n) => event('During', { n }));
        await Promise.all(during.map((e) => store.append(stream('sub'), [e], 'any')));
        await until(() => seen.length >= 8, 'catch-up');
        const after = [9, 10].map((n) => event('After', { n }));
        await store.append(stream('sub2'), after, 'any');
        await until(() => seen.length >= 10, 'live events');
        await sub.close();
        const ids = seen.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(ids)).toEqual(new Set([...before, ...during, ...after].map((e) => e.id)));
        expect(seen.map((e) => e.position)).toEqual([...seen.map((e) => e.position)].sort((p, q) => (p < q ? -1 : 1)));
        expect(sub.position).toBeGreaterThanOrEqual(seen[seen.length - 1].position);
        await sub.done;
      });

      it('delivers only matching events, and nothing after close', async () => {
        const seen: RecordedEvent[] = [];
        const sub = store.subscribe({ from: start, filter: { streamPrefixes: [`group-${run}-`], eventTypes: ['GroupFailed'] } }, (batch) => {
          seen.push(...batch);
        });
        await store.append(stream('m'), [event('GroupOpened'), event('GroupFailed')], 'any');
        await until(() => seen.length >= 1, 'the matching event');
        await sub.close();
        await store.append(stream('m'), [event('GroupFailed')], 'any');
        await new Promise((r) => setTimeout(r, 50));
        expect(seen.map((e) => e.type)).toEqual(['GroupFailed']);
      });

      it('stops and reports the error when the handler throws', async () => {
        await store.append(stream('boom'), [event('A'), event('B')], 'any');
        const failure = new Error('projection failed');
        const sub = store.subscribe({ from: start, filter: { streamPrefixes: [`group-${run}-`] } }, () => {
          throw failure;
        });
        await expect(sub.done).rejects.toBe(failure);
      });
    });

    describe('bad input is refused with a code and stores nothing', () => {
      it.each([
        ['an empty name', ''],
        ['an unknown category', 'orders-1'],
        ['a drv hash with letters outside nix-base32', 'drv-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee'],
        ['a drv hash of the wrong length', 'drv-0123'],
        ['an ESDB system stream', '$all'],
        ['a group id with a slash', 'group-a/b'],
        ['a name over 128 characters', `group-${'a'.repeat(130)}`],
      ])('INVALID_STREAM for %s', async (_what, name) => {
        await expect(store.append(name, [event('A')], 'any')).rejects.toMatchObject({ code: 'INVALID_STREAM' });
        await expect(store.readStream(name)).rejects.toMatchObject({ code: 'INVALID_STREAM' });
      });

      it.each([
        ['an id that is not a UUID', { ...event('A'), id: 'not-a-uuid' }],
        ['a $-type', event('$metadata')],
        ['data that is not JSON', event('A', { n: 1n })],
        ['metadata that is an array', { ...event('A'), metadata: [] as unknown as Record<string, unknown> }],
      ])('INVALID_EVENT for %s', async (_what, bad) => {
        await expect(store.append(stream('bad'), [event('A'), bad], 'any')).rejects.toMatchObject({ code: 'INVALID_EVENT' });
        expect(await store.readStream(stream('bad'))).toEqual([]);
      });

      it('INVALID_ARGUMENT for an empty append, a negative revision and a bad filter', async () => {
        await expect(store.append(stream('e'), [], 'any')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(store.append(stream('e'), [event('A')], -1n)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(collect(store.readAll({ filter: { streamPrefixes: ['group-*'] } }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      });
    });

    if (options.crashUrl && options.openUrl) crashSafety(options.crashUrl, options.openUrl);
  });
}
