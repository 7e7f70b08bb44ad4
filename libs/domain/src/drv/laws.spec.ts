/**
 * Laws of the drv decider over random command histories (fast-check): retries append nothing, ids
 * never collide, an attempt ends once, serials count poisonings, and state is a pure fold of the log.
 */
import fc from 'fast-check';
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { DerivationRegistered, DrvEvent } from '../events/types';
import { fromStored, toStored } from '../events/parse';
import { eventId } from '../ids';
import { DrvCommand } from './commands';
import { drvDecider } from './decide';

const drvPath = makeTextPath('hello.drv', sha256Hex('hello'), []);
const out = makeTextPath('hello', sha256Hex('out'), []);
const registered: DerivationRegistered = {
  id: eventId('law registration'),
  type: 'DerivationRegistered',
  data: {
    drvPath,
    name: 'hello',
    system: 'x86_64-linux',
    outputs: { out: { path: out, hashAlgo: '', hash: '' } },
    inputDrvs: {},
    inputSrcs: [],
    aterm: 'Derive(...)',
  },
  metadata: { schemaVersion: 1, correlationId: 'c', causationId: 'c', recordedAt: '2026-01-01T00:00:00Z' },
};

const attemptId = fc.constantFrom('a1', 'a2', 'a3');
const tail = fc.constantFrom(
  'make: *** [all] Error 2',
  'curl: (6) Could not resolve host: example.org',
  'No space left on device',
);
const command = fc.oneof(
  attemptId.map((a) => ({
    type: 'StartAttempt' as const,
    data: { drvPath, attemptId: a, farm: 'farm1', machine: 'm1' },
  })),
  attemptId.map((a) => ({
    type: 'SucceedAttempt' as const,
    data: { drvPath, attemptId: a, farm: 'farm1', outputs: { out } },
  })),
  fc
    .tuple(
      attemptId,
      fc.constantFrom('PermanentFailure', 'TransientFailure', 'TimedOut') as fc.Arbitrary<'PermanentFailure'>,
      tail,
    )
    .map(([a, status, t]) => ({
      type: 'FailAttempt' as const,
      data: {
        drvPath,
        attemptId: a,
        farm: 'farm1',
        status,
        log: { sha256: sha256Hex(t), bytes: t.length, tail: t },
      },
    })),
  fc.option(attemptId, { nil: undefined }).map((a) => ({
    type: 'PoisonResult' as const,
    data: {
      drvPath,
      reason: 'bad machine',
      cause: 'operator' as const,
      ...(a ? { scope: { kind: 'attempt' as const, attemptId: a } } : {}),
    },
  })),
  fc.constantFrom('root-1', 'root-2').map((root) => ({
    type: 'InvalidateResult' as const,
    data: {
      drvPath,
      because: {
        drvPath: makeTextPath('dep.drv', sha256Hex('dep'), []),
        outputPath: makeTextPath('dep', sha256Hex('dep-out'), []),
        rootEventId: eventId(root),
      },
    },
  })),
  fc.constant({ type: 'ClearFailure' as const, data: { drvPath, by: 'alice', reason: 'retry please' } }),
) as fc.Arbitrary<Omit<DrvCommand, 'metadata'>>;

const fold = (events: DrvEvent[]) => events.reduce(drvDecider.evolve, drvDecider.initialState());

describe('drv decider laws', () => {
  it('over any history: retries append nothing, ids are unique, attempts end once, serials count poisonings', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 25 }), (commands) => {
        const log: DrvEvent[] = [registered];
        let state = fold(log);
        commands.forEach((c, i) => {
          const cmd = {
            ...c,
            metadata: {
              commandId: `cmd-${i}`,
              recordedAt: `2026-01-01T00:${String(i).padStart(2, '0')}:00Z`,
            },
          } as DrvCommand;
          const decided = drvDecider.decide(cmd, state);
          if (!decided.ok) return;
          for (const e of decided.value.events) {
            log.push(e);
            state = drvDecider.evolve(state, e);
          }
          // the same command again, as a client retry would send it, appends nothing
          const retry = drvDecider.decide(
            { ...cmd, metadata: { ...cmd.metadata, recordedAt: '2026-01-02T00:00:00Z' } },
            state,
          );
          expect(retry.ok && retry.value.events).toEqual([]);
        });
        expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
        const endings = log
          .filter((e) => e.type === 'AttemptSucceeded' || e.type === 'AttemptFailed')
          .map((e) => (e.data as { attemptId: string }).attemptId);
        expect(new Set(endings).size).toBe(endings.length);
        const serials = log.flatMap((e) => (e.type === 'ResultPoisoned' ? [e.data.serial] : []));
        expect(serials).toEqual(serials.map((_, i) => i + 1));
        // what is appended reads back byte for byte (same fields, same key order)
        for (const e of log.slice(1)) {
          const bytes = JSON.stringify(toStored(e));
          expect(JSON.stringify(toStored(fromStored(JSON.parse(bytes))))).toBe(bytes);
        }
        // state is a pure fold: rebuilding from the stored form gives the same state
        expect(fold(log.map((e) => fromStored(JSON.parse(JSON.stringify(toStored(e)))) as DrvEvent))).toEqual(
          state,
        );
      }),
      { numRuns: 150 },
    );
  });
});
