/** What only the SQLite adapter promises: group commit, refusing bad files, sharing a file. */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteEventStore, describeStoreUrl, isEventStoreError, type RecordedEvent } from '@buildgraph/eventstore';
import { collect, event } from './contract';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'bg-es-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('group commit', () => {
  it('commits appends made in the same tick together, each answered with its own result', async () => {
    const store = await openSqliteEventStore(join(dir, 'events.db'));
    const results = await Promise.all(Array.from({ length: 64 }, (_, n) => store.append(`group-g${n}`, [event('GroupOpened')], 'no-stream')));
    expect(store.stats).toEqual({ commits: 1, appends: 64 });
    expect(new Set(results.map((r) => r.position)).size).toBe(64);
    await store.close();
  });

  it('a conflicting append in a batch fails alone; the others are committed', async () => {
    const store = await openSqliteEventStore(join(dir, 'events.db'));
    await store.append('group-a', [event('GroupOpened')], 'no-stream');
    const outcomes = await Promise.allSettled([
      store.append('group-b', [event('GroupOpened')], 'no-stream'),
      store.append('group-a', [event('GroupOpened')], 'no-stream'),
      store.append('group-c', [event('GroupOpened')], 'no-stream'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(store.stats.commits).toBe(2);
    const { events } = await collect(store.readAll());
    expect(events.map((e) => e.stream)).toEqual(['group-a', 'group-b', 'group-c']);
    await store.close();
  });

  it('appends accepted before close are committed, later calls fail with STORE_CLOSED', async () => {
    const path = join(dir, 'events.db');
    const store = await openSqliteEventStore(path);
    const pending = store.append('group-x', [event('GroupOpened')], 'no-stream');
    await store.close();
    await expect(pending).resolves.toMatchObject({ nextRevision: 0n });
    await expect(store.append('group-x', [event('A')], 'any')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    const reopened = await openSqliteEventStore(path);
    expect(await reopened.readStream('group-x')).toHaveLength(1);
    await reopened.close();
  });
});

describe('bad files are refused with STORE_CORRUPT, never a crash', () => {
  it('a file of garbage', async () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    await expect(openSqliteEventStore(path)).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining(path) });
  });

  it('an SQLite database that is not an event store', async () => {
    const path = join(dir, 'other.db');
    const other = new Database(path);
    other.exec('CREATE TABLE users (name TEXT)');
    other.close();
    await expect(openSqliteEventStore(path)).rejects.toMatchObject({ code: 'STORE_CORRUPT', message: expect.stringContaining('users') });
  });

  it('an event store whose pages were overwritten: refused at open with verify, at first read without', async () => {
    const path = join(dir, 'events.db');
    const store = await openSqliteEventStore(path);
    for (let n = 0; n < 20; n++) await store.append(`group-${n}`, [event('Probe', { pad: 'y'.repeat(2000) })], 'any');
    await store.close();
    const bytes = readFileSync(path);
    bytes.fill(0x5a, 4096); // every page after the first (header and schema intact)
    writeFileSync(path, bytes);
    await expect(openSqliteEventStore(path, { verify: true })).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    // Without the whole-file check, the damage surfaces (with a code) when the pages are read.
    const unverified = await openSqliteEventStore(path).then(async (s) => {
      try {
        await collect(s.readAll());
        return 'read without error';
      } catch (e) {
        return e;
      } finally {
        await s.close();
      }
    }, (e: unknown) => e);
    expect(isEventStoreError(unverified, 'STORE_CORRUPT')).toBe(true);
  });

  it('a row whose JSON was damaged is reported with its position when read', async () => {
    const path = join(dir, 'events.db');
    const store = await openSqliteEventStore(path);
    await store.append('group-j', [event('A'), event('B')], 'no-stream');
    await store.close();
    const raw = new Database(path);
    raw.prepare(`UPDATE events SET data = '{broken' WHERE revision = 1`).run();
    raw.close();
    const reopened = await openSqliteEventStore(path);
    await expect(reopened.readStream('group-j')).rejects.toMatchObject({ code: 'STORE_CORRUPT', details: { position: '2' } });
    await reopened.close();
  });
});

describe('one file, two store instances (as two processes would)', () => {
  it('interleaved appends get distinct positions and both are visible to either', async () => {
    const path = join(dir, 'events.db');
    const [a, b] = [await openSqliteEventStore(path), await openSqliteEventStore(path)];
    for (let n = 0; n < 10; n++) {
      await Promise.all([a.append('group-a', [event('A', { n })], 'any'), b.append('group-b', [event('B', { n })], 'any')]);
    }
    const fromA: RecordedEvent[] = (await collect(a.readAll())).events;
    expect(fromA).toHaveLength(20);
    expect(new Set(fromA.map((e) => e.position)).size).toBe(20);
    expect((await collect(b.readAll())).events.map((e) => e.id)).toEqual(fromA.map((e) => e.id));
    await Promise.all([a.close(), b.close()]);
  });

  it('sees the other instance\'s appends when checking expected revisions', async () => {
    const path = join(dir, 'events.db');
    const [a, b] = [await openSqliteEventStore(path), await openSqliteEventStore(path)];
    await a.append('group-shared', [event('GroupOpened')], 'no-stream');
    await b.append('group-shared', [event('Member')], 0n);
    await expect(a.append('group-shared', [event('Member')], 0n)).rejects.toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 1n });
    await expect(a.append('group-shared', [event('GroupSucceeded')], 1n)).resolves.toMatchObject({ nextRevision: 2n });
    await Promise.all([a.close(), b.close()]);
  });

  it('a subscriber follows the other instance live only when asked to poll the head', async () => {
    const path = join(dir, 'events.db');
    const polling = await openSqliteEventStore(path, { pollExternalAppendsMs: 5 });
    const writer = await openSqliteEventStore(path);
    const seen: RecordedEvent[] = [];
    const sub = polling.subscribe({}, (batch) => {
      seen.push(...batch);
    });
    const written = event('GroupOpened');
    await writer.append('group-elsewhere', [written], 'no-stream');
    for (let i = 0; i < 500 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen.map((e) => e.id)).toEqual([written.id]);
    await sub.close();
    await Promise.all([polling.close(), writer.close()]);
  });
});

describe('store settings', () => {
  it.each([
    ['esdb://eventstore:2113?tls=false', { kind: 'esdb', url: 'esdb://eventstore:2113?tls=false' }],
    ['sqlite:/var/lib/buildgraph/events.db', { kind: 'sqlite', path: '/var/lib/buildgraph/events.db' }],
    ['./events.db', { kind: 'sqlite', path: './events.db' }],
  ])('%s', (url, target) => {
    expect(describeStoreUrl(url)).toEqual(target);
  });

  it('refuses an unknown scheme and an empty setting with INVALID_ARGUMENT', () => {
    expect(() => describeStoreUrl('postgres://db/events')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => describeStoreUrl('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
