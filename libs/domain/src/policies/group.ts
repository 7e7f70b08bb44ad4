/**
 * The group policy, pure: turns what happens to a group's members into commands for the group and drv
 * deciders. A member attempt's end is reported to the group (which decides success or failure once);
 * a failed group poisons the members that had succeeded (cause: group-failure); an open group past
 * its deadline is expired. Command ids and times come from the triggering event, so every replica
 * issues the same commands and the deciders' deterministic event ids absorb the repeats.
 */
import type { CommandMetadata } from '../commands';
import type { PoisonResult } from '../drv/commands';
import type { DomainEvent } from '../events/types';
import type { ExpireDeadline, RecordMemberOutcome } from '../group/decide';
import type { GroupOutcomeDoc } from '../projections/group-outcome';

export type PolicyCommand =
  | { aggregate: 'group'; id: string; command: RecordMemberOutcome | ExpireDeadline }
  | { aggregate: 'drv'; id: string; command: PoisonResult };

export interface GroupPolicyView {
  /** the group an attempt was started in, if any (AttemptStarted.groupId) */
  groupOfAttempt(drvPath: string, attemptId: string): string | undefined;
  group(groupId: string): GroupOutcomeDoc | undefined;
}

function metaFrom(event: DomainEvent, suffix: string): CommandMetadata {
  return {
    commandId: `${event.id}:${suffix}`.slice(0, 128),
    correlationId: event.metadata.correlationId,
    causationId: event.id,
    recordedAt: event.metadata.recordedAt,
  };
}

export function groupPolicy(event: DomainEvent, view: GroupPolicyView): PolicyCommand[] {
  switch (event.type) {
    case 'AttemptSucceeded':
    case 'AttemptFailed': {
      const { drvPath, attemptId, finishedAt } = event.data;
      const groupId = view.groupOfAttempt(drvPath, attemptId);
      if (groupId === undefined || !view.group(groupId)?.members.some((m) => m.drvPath === drvPath))
        return [];
      const succeeded = event.type === 'AttemptSucceeded';
      const data: RecordMemberOutcome['data'] = {
        groupId,
        drvPath,
        attemptId,
        outcome: succeeded ? 'succeeded' : 'failed',
        at: finishedAt,
      };
      if (event.type === 'AttemptFailed')
        data.reason = `${drvPath} failed in attempt ${attemptId}: ${event.data.status} (${event.data.cause})`;
      return [
        {
          aggregate: 'group',
          id: groupId,
          command: { type: 'RecordMemberOutcome', data, metadata: metaFrom(event, 'member') },
        },
      ];
    }
    case 'GroupMemberSucceeded': {
      // a success recorded after the group failed is a late partial success: cancel it too
      if (view.group(event.data.groupId)?.status !== 'failed') return [];
      return [
        poisonMember(
          event,
          { drvPath: event.data.drvPath, attemptId: event.data.attemptId },
          `group ${event.data.groupId} had already failed`,
          'poison-late',
        ),
      ];
    }
    case 'GroupFailed':
      return event.data.succeeded.map((m, i) =>
        poisonMember(
          event,
          m,
          `group ${event.data.groupId} failed (${event.data.reason}): ${event.data.detail}`,
          `poison-${i}`,
        ),
      );
    default:
      return [];
  }
}

function poisonMember(
  event: DomainEvent,
  m: { drvPath: string; attemptId: string },
  reason: string,
  suffix: string,
): PolicyCommand {
  return {
    aggregate: 'drv',
    id: m.drvPath,
    command: {
      type: 'PoisonResult',
      data: {
        drvPath: m.drvPath,
        reason: reason.slice(0, 1024),
        cause: 'group-failure',
        scope: { kind: 'attempt', attemptId: m.attemptId },
      },
      metadata: metaFrom(event, suffix),
    },
  };
}

/** ExpireDeadline for every open group whose deadline has passed at `now`. */
export function expiredGroups(groups: Iterable<GroupOutcomeDoc>, now: Date): PolicyCommand[] {
  const out: PolicyCommand[] = [];
  const at = now.toISOString();
  for (const g of groups) {
    if (g.status !== 'open' || Date.parse(g.deadline) > now.getTime()) continue;
    out.push({
      aggregate: 'group',
      id: g.groupId,
      command: {
        type: 'ExpireDeadline',
        data: { groupId: g.groupId, now: at },
        metadata: { commandId: `deadline:${g.groupId}`.slice(0, 128), recordedAt: at },
      },
    });
  }
  return out;
}
