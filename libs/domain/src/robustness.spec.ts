/** Bad input gets a clear error with a code and never crashes: fuzzed with fast-check. */
import fc from 'fast-check';
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { DrvCommand } from './drv/commands';
import { drvDecider } from './drv/decide';
import { parseEvent, parseStored } from './events/parse';
import { DerivationRegistered } from './events/types';
import { GroupCommand, groupDecider } from './group/decide';
import { eventId } from './ids';
import { runCommands } from './testing/given';

const drvPath = makeTextPath('hello.drv', sha256Hex('hello'), []);
const outPath = makeTextPath('hello', sha256Hex('out'), []);
const registered: DerivationRegistered = {
  id: eventId('registration'),
  type: 'DerivationRegistered',
  data: {
    drvPath,
    name: 'hello',
    system: 'x86_64-linux',
    outputs: { out: { path: '', hashAlgo: 'r:sha256', hash: '' } },
    inputDrvs: {},
    inputSrcs: [],
    aterm: 'Derive(...)',
  },
  metadata: { schemaVersion: 1, correlationId: 'c', causationId: 'c', recordedAt: '2026-01-01T00:00:00Z' },
};
const meta = { commandId: 'cmd', recordedAt: '2026-01-01T00:00:00Z' };
const DRV_TYPES = [
  'RegisterDerivation',
  'StartAttempt',
  'SucceedAttempt',
  'FailAttempt',
  'ResolveAttempt',
  'PoisonResult',
  'InvalidateResult',
  'ClearFailure',
  'RecordFodVerification',
  'toString',
  '__proto__',
];
const TRICKY_IDS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'a1'];

/** values near the real shapes, so the fuzzer gets past the first field */
const plausible = fc.record(
  {
    drvPath: fc.oneof(fc.constant(drvPath), fc.string()),
    attemptId: fc.oneof(fc.constantFrom(...TRICKY_IDS), fc.string()),
    farm: fc.constantFrom('farm1', '', '__proto__'),
    machine: fc.constant('m1'),
    outputs: fc.oneof(
      fc.constant({ out: outPath }),
      fc.dictionary(fc.constantFrom('out', '__proto__', 'constructor'), fc.anything()),
    ),
    status: fc.constantFrom('PermanentFailure', 'Nope'),
    log: fc.oneof(fc.constant({ sha256: sha256Hex(''), bytes: 0, tail: '' }), fc.anything()),
    scope: fc.anything(),
    reason: fc.string(),
    cause: fc.constantFrom('operator', 'cosmic-ray'),
  },
  { requiredKeys: [] },
);

describe('robustness', () => {
  it('the drv decider answers any command with a Result and never throws', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DRV_TYPES),
        fc.oneof(plausible, fc.anything()),
        fc.oneof(fc.constant(meta), fc.anything()),
        (type, data, metadata) => {
          const state = runCommands(drvDecider, [], [registered]).reduce(
            drvDecider.evolve,
            drvDecider.initialState(),
          );
          const r = drvDecider.decide({ type, data, metadata } as DrvCommand, state);
          expect(typeof r.ok).toBe('boolean');
          if (!r.ok) expect(r.error.code).toMatch(/^[A-Z_]+$/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the group decider answers any command with a Result and never throws', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('OpenGroup', 'RecordMemberOutcome', 'ExpireDeadline', 'constructor'),
        fc.anything(),
        (type, data) => {
          const r = groupDecider.decide(
            { type, data, metadata: meta } as GroupCommand,
            groupDecider.initialState(),
          );
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reading any stored record either yields an event or a coded error', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('AttemptStarted', 'AttemptFailed', 'ResultPoisoned', 'hasOwnProperty', 'GroupFailed'),
        fc.anything(),
        fc.anything(),
        (type, data, metadata) => {
          expect(typeof parseEvent(type, data, metadata).ok).toBe('boolean');
          expect(typeof parseStored({ id: eventId(type), type, data, metadata }).ok).toBe('boolean');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an attempt id that names an Object prototype member is an ordinary attempt id', () => {
    for (const attemptId of ['constructor', '__proto__', 'toString']) {
      const events = runCommands(
        drvDecider,
        [
          {
            type: 'StartAttempt',
            data: { drvPath, attemptId, farm: 'farm1', machine: 'm1' },
            metadata: meta,
          },
          {
            type: 'SucceedAttempt',
            data: { drvPath, attemptId, farm: 'farm1', outputs: { out: outPath } },
            metadata: meta,
          },
        ],
        [registered],
      );
      expect(events.map((e) => e.type)).toEqual([
        'DerivationRegistered',
        'AttemptStarted',
        'AttemptSucceeded',
      ]);
    }
  });
});
