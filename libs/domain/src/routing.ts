/** Which stream a command is decided on: the service loads that stream's events, folds them, decides. */
import { drvPath as drvPathCheck, hasOwn, id } from './check';
import { DrvCommand } from './drv/commands';
import { registrationDrvPath } from './drv/register';
import { GroupCommand } from './group/decide';
import { Result, fail, ok } from './result';
import { drvStreamName, groupStreamName } from './streams';

const GROUP_COMMANDS = { OpenGroup: true, RecordMemberOutcome: true, ExpireDeadline: true };

/**
 * `drv-<hash>` for a drv command (a RegisterDerivation without drvPath is routed by the path its ATerm
 * hashes to), `group-<groupId>` for a group command. Bad input is a Result error, never a throw.
 */
export function streamForCommand(
  command: DrvCommand | GroupCommand,
): Result<{ stream: string; aggregate: 'drv' | 'group' }> {
  if (typeof command !== 'object' || command === null)
    return fail('INVALID_ARGUMENT', 'command: expected an object', { field: 'command' });
  const data = (typeof command.data === 'object' && command.data !== null ? command.data : {}) as Record<
    string,
    unknown
  >;
  if (typeof command.type === 'string' && hasOwn(GROUP_COMMANDS, command.type)) {
    const groupId = id(data.groupId, 'data.groupId');
    return groupId.ok ? ok({ stream: groupStreamName(groupId.value), aggregate: 'group' }) : groupId;
  }
  if (command.type === 'RegisterDerivation' && data.drvPath === undefined) {
    if (typeof data.aterm !== 'string')
      return fail('INVALID_ARGUMENT', 'data.aterm: is required', { field: 'data.aterm' });
    const computed = registrationDrvPath(data.aterm);
    return computed.ok ? ok({ stream: drvStreamName(computed.value), aggregate: 'drv' }) : computed;
  }
  const drvPath = drvPathCheck(data.drvPath, 'data.drvPath');
  return drvPath.ok ? ok({ stream: drvStreamName(drvPath.value), aggregate: 'drv' }) : drvPath;
}
