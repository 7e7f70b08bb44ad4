/**
 * Replay and audit: a generated farm history, run live with both policies, rebuilt from position 0
 * into a fresh file, gives identical digests; the state at a past position or time is the state the
 * live runner had there; `buildgraph replay --verify` says so, and says when it is not so.
 */
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { formatTrustedKey, generateSecretKey, toPublicKey } from '@buildgraph/contracts';
import { toStored } from '@buildgraph/domain';
import {
  GroupPolicy,
  InvalidationPolicy,
  PROJECTIONS,
  ProjectionRunner,
  ReadStore,
  compareDigests,
  decodeEvent,
  replay,
} from '@buildgraph/projections';
import { buildProgram } from '../../apps/cli/src/program';
import { historyEvents } from '../support/history';
import { openLive, type Live } from './live';

describe('replay', () => {
  let live: Live;
  beforeAll(async () => {
    live = await openLive();
    const { events } = historyEvents({
      seed: 42,
      drvs: 300,
      chunk: 100,
      groupsPerThousand: 20,
      poisonsPerThousand: 20,
    });
    await Promise.all(events.map(({ stream, event }) => live.store.append(stream, [toStored(event)], 'any')));
    const { runner } = live.runner('live', [new InvalidationPolicy(), new GroupPolicy()]);
    await runner.start();
    await live.settle();
  });
  afterAll(async () => {
    await live.close();
  });

  it('rebuilding from position 0 into a fresh file gives the live digests, model by model, twice', async () => {
    const liveStore = new ReadStore(join(live.dir, 'live.sqlite'), { readonly: true });
    const first = await replay({ events: live.store, out: join(live.dir, 'replayed-1.sqlite') });
    const second = await replay({ events: live.store, out: join(live.dir, 'replayed-2.sqlite') });
    expect(compareDigests(liveStore.digests(), first.digests).filter((c) => !c.equal)).toEqual([]);
    expect(second.digests).toEqual(first.digests);
    // a cache far smaller than the history: most documents leave memory as runs and come back from them
    const spilled = await replay({
      events: live.store,
      out: join(live.dir, 'replayed-3.sqlite'),
      cacheSize: 500,
    });
    expect(spilled.digests).toEqual(first.digests);
    const reread = new ReadStore(join(live.dir, 'replayed-3.sqlite'), { readonly: true });
    expect(reread.digests()).toEqual(first.digests);
    reread.close();
    expect(Object.keys(first.digests)).toEqual(
      expect.arrayContaining([
        'drv-state',
        'graph',
        'attempt-trace',
        'base-trace',
        'consumers',
        'group-outcome',
        'fod-ledger',
      ]),
    );
    liveStore.close();
  });

  it('the history exercised the policies: invalidations were appended and read models show them', async () => {
    const types: Record<string, number> = {};
    for await (const b of live.store.readAll()) for (const r of b) types[r.type] = (types[r.type] ?? 0) + 1;
    expect(types.ResultPoisoned).toBeGreaterThan(0);
    expect(types.ResultInvalidated).toBeGreaterThan(0);
  });

  it('the state at a past position is what a runner had when it reached that position', async () => {
    const head = await live.store.headPosition();
    const middle = head / 2n;
    const past = await replay({ events: live.store, out: join(live.dir, 'past.sqlite'), to: middle });
    expect(past.position).toBe(middle);
    const rs = new ReadStore(join(live.dir, 'stepwise.sqlite'));
    const stepwise = new ProjectionRunner({
      events: live.store,
      readStore: rs,
      projections: PROJECTIONS,
      decode: decodeEvent,
      flushEvery: 7,
      batchSize: 13,
    });
    await stepwise.catchUp({ to: middle });
    expect(rs.digests()).toEqual(past.digests);
    rs.close();
  });

  it('replay to a time stops before the first event recorded after it', async () => {
    const times: string[] = [];
    for await (const b of live.store.readAll({ to: 50n }))
      for (const r of b) times.push((r.metadata as { recordedAt: string }).recordedAt);
    const at = new Date(times[39]);
    const result = await replay({ events: live.store, out: join(live.dir, 'at-time.sqlite'), to: at });
    expect(result.events).toBe(times.findIndex((t) => Date.parse(t) > at.getTime()));
  });

  it('refuses to overwrite an existing file', async () => {
    await expect(replay({ events: live.store, out: join(live.dir, 'live.sqlite') })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  describe('buildgraph replay', () => {
    async function run(
      args: string[],
    ): Promise<{ out: string; error?: { message: string; exitCode: number } }> {
      let out = '';
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        out += chunk.toString();
        return true;
      });
      try {
        await buildProgram()
          .exitOverride()
          .parseAsync(['node', 'buildgraph', 'replay', '--no-progress', ...args]);
        return { out };
      } catch (e) {
        return { out, error: e as { message: string; exitCode: number } };
      } finally {
        write.mockRestore();
      }
    }
    const store = () => `sqlite:${join(live.dir, 'events.sqlite')}`;

    it('--verify compares every read model with the live store and reports OK', async () => {
      const r = await run([
        '--store',
        store(),
        '--out',
        join(live.dir, 'cli-1.sqlite'),
        '--verify',
        '--live',
        join(live.dir, 'live.sqlite'),
        '--json',
      ]);
      expect(r.error).toBeUndefined();
      const report = JSON.parse(r.out);
      expect(report.ok).toBe(true);
      expect(report.comparison.every((c: { equal: boolean }) => c.equal)).toBe(true);
      expect(report.signatures.problemCount).toBe(0);
    });

    it('--verify fails with exit code 3 when a live read model was tampered with', async () => {
      const tampered = join(live.dir, 'tampered.sqlite');
      // the live file is in WAL mode: its latest pages may still be in the -wal file
      for (const suffix of ['', '-wal'])
        if (existsSync(join(live.dir, `live.sqlite${suffix}`)))
          writeFileSync(tampered + suffix, readFileSync(join(live.dir, `live.sqlite${suffix}`)));
      const rs = new ReadStore(tampered);
      const [key, doc] = [...rs.scan<Record<string, unknown>>('drv-state')][0];
      rs.commit([
        { model: 'drv-state', key, doc: { ...doc, status: 'valid' === doc.status ? 'failed' : 'valid' } },
      ]);
      rs.close();
      const r = await run([
        '--store',
        store(),
        '--out',
        join(live.dir, 'cli-2.sqlite'),
        '--verify',
        '--live',
        tampered,
      ]);
      expect(r.error?.exitCode).toBe(3);
      expect(r.out).toMatch(/DIFFERENT drv-state/);
    });

    it('checks signers against the trusted keys', async () => {
      const keysFile = join(live.dir, 'trusted-keys');
      writeFileSync(
        keysFile,
        formatTrustedKey({ ...toPublicKey(generateSecretKey('ops-1')), role: { kind: 'operator' } }) + '\n',
      );
      const r = await run([
        '--store',
        store(),
        '--out',
        join(live.dir, 'cli-3.sqlite'),
        '--verify',
        '--live',
        join(live.dir, 'live.sqlite'),
        '--trusted-keys',
        keysFile,
        '--json',
      ]);
      // the generated history carries no signers: everything is counted as unsigned, nothing is a problem
      expect(JSON.parse(r.out).signatures).toMatchObject({ signed: 0, problemCount: 0 });
    });

    it('bad flags are refused with exit code 2 and a message', async () => {
      expect((await run(['--store', store(), '--to', 'yesterday'])).error).toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/--to must be a log position/),
      });
      expect((await run(['--store', store(), '--verify'])).error).toMatchObject({ exitCode: 2 });
      expect((await run(['--store', store(), '--out', join(live.dir, 'live.sqlite')])).error).toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/exists/),
      });
    });
  });
});
