/**
 * The farm's outbox: what a farm operator relies on when the service is away. Reports come out in the
 * order they went in, once, survive the process, and a refused one does not block the others.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandName } from '@buildgraph/contracts';
import { waves } from './client';
import { Outbox, QueuedReport } from './outbox';

describe('the outbox', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bg-outbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const report = (n: number, command: CommandName = 'attempt.start') => ({ command, body: JSON.stringify({ drvPath: `/nix/store/${n}.drv`, n }) });

  it('gives reports back in the order they were queued, also after the process restarts', () => {
    const a = Outbox.open(dir);
    a.enqueue([report(1), report(2)]);
    a.enqueue([report(3)]);
    a.close();
    const b = Outbox.open(dir);
    expect(b.pending().map((p) => JSON.parse(p.body).n)).toEqual([1, 2, 3]);
    b.close();
  });

  it('keeps a report queued twice (a hook run twice) once', () => {
    const o = Outbox.open(dir);
    expect(o.enqueue([report(1)])).toBe(1);
    expect(o.enqueue([report(1)])).toBe(0);
    expect(o.size()).toBe(1);
    o.close();
  });

  it('does not queue again a report that was already delivered', () => {
    const o = Outbox.open(dir, 'process-crash');
    o.enqueue([report(1), report(2)]);
    o.markDelivered([o.pending()[0].key]);
    expect(o.enqueue([report(1)])).toBe(0);
    expect(o.pending().map((p) => JSON.parse(p.body).n)).toEqual([2]);
    o.close();
  });

  it('sets a refused report aside with the service\'s code, out of the queue', () => {
    const o = Outbox.open(dir);
    o.enqueue([report(1), report(2)]);
    o.markRejected(o.pending()[0].key, 'PERMISSION_DENIED', 'a farm:farm1 key may not report for farm farm2');
    expect(o.pending().map((p) => JSON.parse(p.body).n)).toEqual([2]);
    expect(o.rejected()).toEqual([expect.objectContaining({ command: 'attempt.start', code: 'PERMISSION_DENIED' })]);
    o.close();
  });

  it('names the state dir when it cannot be used', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    expect(() => Outbox.open(join(file, 'state'))).toThrow(`cannot open the outbox in ${join(file, 'state')}`);
  });
});

describe('sending in waves', () => {
  const commands: CommandName[] = ['attempt.start', 'attempt.succeed', 'attempt.fail', 'attempt.resolve'];
  const queue = fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom(...commands)), { maxLength: 80 }).map((xs) =>
    xs.map(([drv, command], i): QueuedReport => ({ seq: i, key: String(i), command, body: JSON.stringify({ drvPath: `/nix/store/${drv}.drv` }), tries: 0, signer: null })),
  );

  it('keeps the queue\'s order, never sends two reports about one drv together, and sends a resolution alone', () => {
    fc.assert(
      fc.property(queue, (items) => {
        const ws = waves(items);
        expect(ws.flat().map((i) => i.seq)).toEqual(items.map((i) => i.seq));
        for (const w of ws) {
          const drvs = w.map((i) => JSON.parse(i.body).drvPath);
          expect(new Set(drvs).size).toBe(drvs.length);
          if (w.some((i) => i.command === 'attempt.resolve')) expect(w).toHaveLength(1);
          expect(w.length).toBeLessThanOrEqual(32);
        }
      }),
    );
  });
});
