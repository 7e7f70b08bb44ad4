/**
 * The law group commit must keep: appends made concurrently (one tick, so one transaction) give
 * exactly the outcomes they would give applied one at a time in call order. The reference is a
 * small in-memory model of the port's rules (expected revision, idempotent retry, duplicate ids).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { openSqliteEventStore, type EventData, type ExpectedRevision } from '@buildgraph/eventstore';
import { collect, event } from './contract';

type Op = { stream: string; events: EventData[]; expected: ExpectedRevision };
type Outcome = { ok: true; nextRevision: bigint; index: number } | { ok: false; code: string };

/** Applies ops one by one; `index` is the global index (0-based) of the append's last event. */
function model(ops: Op[]): { outcomes: Outcome[]; log: string[] } {
  const log: { id: string; stream: string; revision: bigint }[] = [];
  const outcomes = ops.map((op): Outcome => {
    const stored = op.events.map((e) => log.findIndex((l) => l.id === e.id));
    if (stored.some((i) => i >= 0)) {
      const retry = stored.every((i, k) => i >= 0 && log[i].stream === op.stream && log[i].revision === log[stored[0]].revision + BigInt(k));
      if (!retry) return { ok: false, code: 'DUPLICATE_EVENT_ID' };
      const last = stored[stored.length - 1];
      return { ok: true, nextRevision: log[last].revision, index: last };
    }
    const mine = log.filter((l) => l.stream === op.stream);
    const actual = mine.length === 0 ? 'no-stream' : BigInt(mine.length - 1);
    if (op.expected !== 'any' && op.expected !== actual) return { ok: false, code: 'WRONG_EXPECTED_REVISION' };
    op.events.forEach((e, k) => log.push({ id: e.id, stream: op.stream, revision: BigInt(mine.length + k) }));
    return { ok: true, nextRevision: BigInt(mine.length + op.events.length - 1), index: log.length - 1 };
  });
  return { outcomes, log: log.map((l) => l.id) };
}

/** Ops over three streams; some re-send (part of) an earlier op's events, as retries and bugs do. */
const opsArb = fc
  .array(
    fc.record({
      stream: fc.constantFrom('group-a', 'group-b', 'group-c'),
      size: fc.integer({ min: 1, max: 3 }),
      expected: fc.oneof(fc.constant<'any'>('any'), fc.constant<'no-stream'>('no-stream'), fc.bigInt({ min: 0n, max: 4n })),
      resend: fc.option(fc.record({ of: fc.nat(), partial: fc.boolean() }), { freq: 3 }),
    }),
    { minLength: 1, maxLength: 25 },
  )
  .map((specs) => {
    const ops: Op[] = [];
    for (const spec of specs) {
      const earlier = spec.resend && ops.length > 0 ? ops[spec.resend.of % ops.length] : undefined;
      const events = earlier
        ? spec.resend!.partial
          ? [earlier.events[0], event('Fresh', {}, randomUUID())]
          : earlier.events
        : Array.from({ length: spec.size }, () => event('Probe'));
      ops.push({ stream: earlier && !spec.resend!.partial ? earlier.stream : spec.stream, events, expected: spec.expected });
    }
    return ops;
  });

describe('group commit', () => {
  it('concurrent appends have the outcomes of applying them one at a time in call order, batch after batch', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, async (ops) => {
        const dir = mkdtempSync(join(tmpdir(), 'bg-gc-'));
        const store = await openSqliteEventStore(join(dir, 'events.db'));
        try {
          // Two waves, each in one tick (so one transaction each); the second also exercises what
          // the store remembers between commits.
          const half = Math.ceil(ops.length / 2);
          const wave = (part: Op[]) => Promise.allSettled(part.map((op) => store.append(op.stream, op.events, op.expected)));
          const settled = [...(await wave(ops.slice(0, half))), ...(await wave(ops.slice(half)))];
          expect(store.stats.commits).toBe(half < ops.length ? 2 : 1);
          const { outcomes, log } = model(ops);
          const { events } = await collect(store.readAll());
          expect(events.map((e) => e.id)).toEqual(log);
          const positions = events.map((e) => e.position);
          settled.forEach((s, i) => {
            const expected = outcomes[i];
            if (expected.ok) {
              expect(s).toEqual({ status: 'fulfilled', value: { nextRevision: expected.nextRevision, position: positions[expected.index] } });
            } else {
              expect(s).toMatchObject({ status: 'rejected', reason: { code: expected.code } });
            }
          });
        } finally {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});
