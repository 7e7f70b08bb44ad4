/** A multi-machine group succeeds or fails as a unit, and decides that once. */
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { CommandMetadata } from '../commands';
import { GroupFailed, GroupSucceeded } from '../events/types';
import { deciderSpec, runCommands } from '../testing/given';
import { GroupCommand, groupDecider } from './decide';

// valid .drv paths computed by libs/nix, never typed by hand
const member = (name: string) => makeTextPath(`${name}.drv`, sha256Hex(name), []);
const [a, b, c] = [member('shard-a'), member('shard-b'), member('shard-c')];

const spec = deciderSpec(groupDecider);
let seq = 0;
const meta = (recordedAt = '2026-01-01T10:00:00Z'): CommandMetadata => ({
  commandId: `cmd-${++seq}`,
  recordedAt,
});

const open = (members = [a, b, c], deadline = '2026-01-01T12:00:00Z'): GroupCommand => ({
  type: 'OpenGroup',
  data: { groupId: 'release-42', members: members.map((drvPath) => ({ drvPath, machine: 'm1' })), deadline },
  metadata: meta(),
});
const outcome = (
  drvPath: string,
  result: 'succeeded' | 'failed',
  attemptId = `att-${drvPath.slice(11, 15)}`,
  at?: string,
): GroupCommand => ({
  type: 'RecordMemberOutcome',
  data: { groupId: 'release-42', drvPath, attemptId, outcome: result, ...(at ? { at } : {}) },
  metadata: meta(),
});
const expire = (now: string): GroupCommand => ({
  type: 'ExpireDeadline',
  data: { groupId: 'release-42', now },
  metadata: meta(),
});
const history = (...commands: GroupCommand[]) => runCommands(groupDecider, commands);

describe('a multi-machine group', () => {
  it('succeeds once every member has succeeded, naming the attempts', () => {
    const [, e] = spec
      .given(history(open(), outcome(a, 'succeeded'), outcome(b, 'succeeded')))
      .when(outcome(c, 'succeeded'))
      .thenTypes('GroupMemberSucceeded', 'GroupSucceeded');
    expect((e as GroupSucceeded).data.members.map((m) => m.drvPath)).toEqual([a, b, c]);
  });

  it('fails on the first member failure, listing the members that had succeeded so they can be poisoned', () => {
    const [e] = spec
      .given(history(open(), outcome(a, 'succeeded')))
      .when(outcome(b, 'failed'))
      .thenTypes('GroupFailed');
    const f = e as GroupFailed;
    expect(f.data.reason).toBe('member-failed');
    expect(f.data.member?.drvPath).toBe(b);
    expect(f.data.succeeded.map((m) => m.drvPath)).toEqual([a]);
  });

  it('decides its outcome once: a second failure is a no-op', () => {
    spec
      .given(history(open(), outcome(a, 'failed')))
      .when(outcome(b, 'failed'))
      .thenNothing();
  });

  it('decides its outcome once: another attempt of a member failing after the group succeeded changes nothing', () => {
    spec
      .given(history(open([a]), outcome(a, 'succeeded')))
      .when(outcome(a, 'failed', 'another-attempt'))
      .thenNothing();
    spec
      .given(history(open([a, b]), outcome(a, 'succeeded'), outcome(b, 'succeeded')))
      .when(outcome(b, 'failed', 'att-x'))
      .thenNothing();
  });

  it('records a member that succeeds after the group failed, so its partial success is cancelled too', () => {
    spec
      .given(history(open(), outcome(a, 'failed')))
      .when(outcome(b, 'succeeded'))
      .thenTypes('GroupMemberSucceeded');
  });

  it('fails when the deadline passes before every member succeeded', () => {
    const given = history(open(), outcome(a, 'succeeded'));
    spec.given(given).when(expire('2026-01-01T11:59:59Z')).thenNothing();
    const [e] = spec.given(given).when(expire('2026-01-01T12:00:00Z')).thenTypes('GroupFailed');
    expect(e.data).toMatchObject({ reason: 'deadline', succeeded: [{ drvPath: a }] });
  });

  it('fails when the last member succeeds after the deadline', () => {
    spec
      .given(history(open([a, b]), outcome(a, 'succeeded')))
      .when(outcome(b, 'succeeded', 'late', '2026-01-01T12:00:01Z'))
      .thenTypes('GroupMemberSucceeded', 'GroupFailed');
  });

  it('an expired deadline after the outcome is a no-op', () => {
    spec
      .given(history(open([a]), outcome(a, 'succeeded')))
      .when(expire('2026-01-02T00:00:00Z'))
      .thenNothing();
  });

  it('a repeated member success returns the original', () => {
    const given = history(open(), outcome(a, 'succeeded'));
    spec.given(given).when(outcome(a, 'succeeded')).thenDuplicateOf(given[1]);
  });

  it('the same attempt reported failed after it was reported succeeded is a CONFLICT', () => {
    spec
      .given(history(open(), outcome(a, 'succeeded')))
      .when(outcome(a, 'failed'))
      .thenError('CONFLICT');
  });

  it('opening the same group again returns the original; with other members it is a CONFLICT', () => {
    const given = history(open());
    spec.given(given).when(open()).thenDuplicateOf(given[0]);
    spec
      .given(given)
      .when(open([a, b]))
      .thenError('CONFLICT');
  });

  it('an outcome for a drv that is not a member is NOT_FOUND, and for a group never opened too', () => {
    spec
      .given(history(open([a])))
      .when(outcome(b, 'failed'))
      .thenError('NOT_FOUND');
    spec.given().when(outcome(a, 'failed')).thenError('NOT_FOUND');
  });

  it('a group listing a member twice, or with a malformed groupId, is refused', () => {
    spec
      .given()
      .when(open([a, a]))
      .thenError('INVALID_ARGUMENT', /listed twice/);
    spec
      .given()
      .when({ ...open(), data: { ...(open().data as object), groupId: 'has space' } } as GroupCommand)
      .thenError('INVALID_ARGUMENT', /groupId/);
  });
});
