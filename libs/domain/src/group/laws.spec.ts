/** Laws of the group decider over random histories: one outcome, earned honestly, and retries append nothing. */
import fc from 'fast-check';
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { GroupEvent } from '../events/types';
import { GroupCommand, groupDecider } from './decide';

const members = ['m-a', 'm-b', 'm-c'].map((n) => makeTextPath(`${n}.drv`, sha256Hex(n), []));
const deadline = '2026-01-01T12:00:00Z';
const minute = fc
  .integer({ min: 0, max: 240 })
  .map((m) => new Date(Date.parse('2026-01-01T10:00:00Z') + m * 60_000).toISOString());

const command = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...members),
      fc.constantFrom('succeeded', 'failed') as fc.Arbitrary<'succeeded' | 'failed'>,
      fc.constantFrom('x1', 'x2'),
      minute,
    )
    .map(([drvPath, outcome, attemptId, at]) => ({
      type: 'RecordMemberOutcome' as const,
      data: { groupId: 'g1', drvPath, attemptId, outcome, at },
    })),
  minute.map((now) => ({ type: 'ExpireDeadline' as const, data: { groupId: 'g1', now } })),
) as fc.Arbitrary<Omit<GroupCommand, 'metadata'>>;

describe('group decider laws', () => {
  it('over any history: at most one outcome, success only when every member succeeded in time, retries append nothing', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 20 }), (commands) => {
        const opening: GroupCommand = {
          type: 'OpenGroup',
          data: { groupId: 'g1', members: members.map((drvPath) => ({ drvPath })), deadline },
          metadata: { commandId: 'open', recordedAt: '2026-01-01T10:00:00Z' },
        };
        const log: GroupEvent[] = [];
        let state = groupDecider.initialState();
        [
          opening,
          ...commands.map(
            (c, i) =>
              ({
                ...c,
                metadata: { commandId: `c${i}`, recordedAt: '2026-01-01T10:00:00Z' },
              }) as GroupCommand,
          ),
        ].forEach((cmd) => {
          const d = groupDecider.decide(cmd, state);
          if (!d.ok) return;
          for (const e of d.value.events) {
            log.push(e);
            state = groupDecider.evolve(state, e);
          }
          const retry = groupDecider.decide(cmd, state);
          expect(retry.ok && retry.value.events).toEqual([]);
        });
        const outcomes = log.filter((e) => e.type === 'GroupSucceeded' || e.type === 'GroupFailed');
        expect(outcomes.length).toBeLessThanOrEqual(1);
        if (outcomes[0]?.type === 'GroupSucceeded') {
          const successes = log.flatMap((e) => (e.type === 'GroupMemberSucceeded' ? [e.data] : []));
          expect(new Set(successes.map((s) => s.drvPath))).toEqual(new Set(members));
          for (const s of successes) expect(Date.parse(s.at)).toBeLessThanOrEqual(Date.parse(deadline));
        }
        expect(new Set(log.map((e) => e.id)).size).toBe(log.length);
      }),
      { numRuns: 200 },
    );
  });
});
