import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { DrvCommand } from './drv/commands';
import { GroupCommand } from './group/decide';
import { streamForCommand } from './routing';
import { drvStreamName } from './streams';

const drvPath = makeTextPath('hello.drv', sha256Hex('hello'), []);
const metadata = { commandId: 'c', recordedAt: '2026-01-01T00:00:00Z' };

describe('routing a command to its stream', () => {
  it('a drv command goes to the stream of its drv', () => {
    const cmd: DrvCommand = { type: 'ClearFailure', data: { drvPath, by: 'alice', reason: 'r' }, metadata };
    expect(streamForCommand(cmd)).toEqual({
      ok: true,
      value: { stream: drvStreamName(drvPath), aggregate: 'drv' },
    });
  });

  it('a group command goes to the stream of its group', () => {
    const cmd: GroupCommand = {
      type: 'ExpireDeadline',
      data: { groupId: 'release-42', now: '2026-01-01T00:00:00Z' },
      metadata,
    };
    expect(streamForCommand(cmd)).toEqual({
      ok: true,
      value: { stream: 'group-release-42', aggregate: 'group' },
    });
  });

  it('a registration without a drv path is refused with a code when its text is not a derivation', () => {
    const cmd: DrvCommand = { type: 'RegisterDerivation', data: { aterm: 'Derive(' }, metadata };
    expect(streamForCommand(cmd)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', details: { field: 'aterm' } },
    });
  });

  it('a malformed drv path or groupId is refused, naming the field', () => {
    expect(
      streamForCommand({
        type: 'ClearFailure',
        data: { drvPath: 'hello' },
        metadata,
      } as unknown as DrvCommand),
    ).toMatchObject({
      ok: false,
      error: { details: { field: 'data.drvPath' } },
    });
    expect(
      streamForCommand({ type: 'OpenGroup', data: { groupId: 'a b' }, metadata } as unknown as GroupCommand),
    ).toMatchObject({
      ok: false,
      error: { details: { field: 'data.groupId' } },
    });
  });
});
