/**
 * The group decider: a multi-machine build succeeds or fails as a unit, and decides that once. The first
 * member failure, or a deadline missed, fails it; all members succeeding (in time) succeeds it.
 */
import {
  Check,
  array,
  drvPath,
  groupId as groupIdCheck,
  id,
  machine as machineName,
  isoTime,
  literal,
  object,
  optional,
  reason,
  refine,
  sameJson,
} from '../check';
import { Command, CommandMetadata, Decided, makeEvent } from '../commands';
import { decideChecked } from '../decide-checked';
import { MAX_GROUP_MEMBERS } from '../events/schemas';
import {
  GroupEvent,
  GroupFailed,
  GroupMember,
  GroupMemberSucceeded,
  GroupOpened,
  GroupSucceeded,
  MemberAttempt,
} from '../events/types';
import { idempotencyKeys as keys } from '../ids';
import { DomainError, Result, fail, ok } from '../result';

export type OpenGroup = Command<'OpenGroup', { groupId: string; members: GroupMember[]; deadline: string }>;
export type RecordMemberOutcome = Command<
  'RecordMemberOutcome',
  {
    groupId: string;
    drvPath: string;
    attemptId: string;
    outcome: 'succeeded' | 'failed';
    reason?: string;
    /** when the member's attempt ended; defaults to the command's recordedAt */
    at?: string;
  }
>;
export type ExpireDeadline = Command<'ExpireDeadline', { groupId: string; now: string }>;
export type GroupCommand = OpenGroup | RecordMemberOutcome | ExpireDeadline;

export const GROUP_COMMAND_SCHEMAS: {
  [T in GroupCommand['type']]: Check<Extract<GroupCommand, { type: T }>['data']>;
} = {
  OpenGroup: refine(
    object({
      groupId: groupIdCheck,
      members: array(object({ drvPath, machine: optional(machineName) }), { min: 1, max: MAX_GROUP_MEMBERS }),
      deadline: isoTime,
    }),
    (d, field): DomainError | null =>
      new Set(d.members.map((m) => m.drvPath)).size !== d.members.length
        ? {
            code: 'INVALID_ARGUMENT',
            message: `${field}.members: a drvPath is listed twice`,
            details: { field: `${field}.members` },
          }
        : null,
  ),
  RecordMemberOutcome: object({
    groupId: id,
    drvPath,
    attemptId: id,
    outcome: literal(['succeeded', 'failed'] as const),
    reason: optional(reason),
    at: optional(isoTime),
  }),
  ExpireDeadline: object({ groupId: id, now: isoTime }),
};

export interface GroupState {
  opened: GroupOpened | null;
  /** by member drvPath: the first success of each */
  succeeded: Readonly<Record<string, GroupMemberSucceeded>>;
  /** decided once */
  outcome: GroupSucceeded | GroupFailed | null;
}

export function initialGroupState(): GroupState {
  return { opened: null, succeeded: {}, outcome: null };
}

export function evolveGroup(state: GroupState, event: GroupEvent): GroupState {
  switch (event.type) {
    case 'GroupOpened':
      return { ...state, opened: event };
    case 'GroupMemberSucceeded':
      return { ...state, succeeded: { ...state.succeeded, [event.data.drvPath]: event } };
    case 'GroupSucceeded':
    case 'GroupFailed':
      return state.outcome ? state : { ...state, outcome: event };
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

type GroupDecision = Decided<GroupEvent>;

/** Members that have succeeded, in the order the group listed them. */
function succeededMembers(
  state: GroupState,
  opened: GroupOpened,
  extra?: GroupMemberSucceeded,
): MemberAttempt[] {
  return opened.data.members
    .map((m) => (extra?.data.drvPath === m.drvPath ? extra : state.succeeded[m.drvPath]))
    .filter((e): e is GroupMemberSucceeded => e !== undefined)
    .map((e) => ({ drvPath: e.data.drvPath, attemptId: e.data.attemptId }));
}

function open(state: GroupState, { data, metadata }: OpenGroup): GroupDecision {
  const event = makeEvent('GroupOpened', data, keys.group(data.groupId, 'GroupOpened'), metadata);
  if (state.opened) {
    if (sameJson(state.opened.data, event.data)) return ok({ events: [], duplicateOf: state.opened });
    return fail('CONFLICT', `group ${data.groupId} is already open with other members or deadline`, {
      groupId: data.groupId,
    });
  }
  return ok({ events: [event] });
}

function requireOpened(state: GroupState, groupId: string): Result<GroupOpened> {
  if (!state.opened) return fail('NOT_FOUND', `group ${groupId} was never opened`, { groupId });
  if (state.opened.data.groupId !== groupId) {
    return fail(
      'INVALID_ARGUMENT',
      `groupId ${groupId} does not belong to this stream (${state.opened.data.groupId})`,
      { field: 'groupId' },
    );
  }
  return ok(state.opened);
}

function failed(
  opened: GroupOpened,
  state: GroupState,
  meta: CommandMetadata,
  detail: Omit<GroupFailed['data'], 'groupId' | 'succeeded'>,
  extra?: GroupMemberSucceeded,
): GroupFailed {
  return makeEvent(
    'GroupFailed',
    { groupId: opened.data.groupId, ...detail, succeeded: succeededMembers(state, opened, extra) },
    keys.group(opened.data.groupId, 'GroupFailed'),
    meta,
  );
}

function recordOutcome(state: GroupState, { data, metadata }: RecordMemberOutcome): GroupDecision {
  const opened = requireOpened(state, data.groupId);
  if (!opened.ok) return opened;
  const group = opened.value;
  if (!group.data.members.some((m) => m.drvPath === data.drvPath)) {
    return fail('NOT_FOUND', `${data.drvPath} is not a member of group ${data.groupId}`, {
      drvPath: data.drvPath,
    });
  }
  const at = data.at ?? metadata.recordedAt;
  const member: MemberAttempt = { drvPath: data.drvPath, attemptId: data.attemptId };
  const earlier = state.succeeded[data.drvPath];

  if (data.outcome === 'succeeded') {
    // the first success of a member counts; later ones are repeats
    if (earlier) return ok({ events: [], duplicateOf: earlier });
    const success = makeEvent(
      'GroupMemberSucceeded',
      { groupId: data.groupId, ...member, at },
      keys.groupMember(data.groupId, data.drvPath),
      metadata,
    );
    // after a failure the late success is still recorded, so the group policy poisons it too
    if (state.outcome) return ok({ events: [success] });
    if (Date.parse(at) > Date.parse(group.data.deadline)) {
      const late = failed(
        group,
        state,
        metadata,
        {
          reason: 'deadline',
          member,
          detail: `${data.drvPath} succeeded at ${at}, after the deadline ${group.data.deadline}`,
        },
        success,
      );
      return ok({ events: [success, late] });
    }
    const all = succeededMembers(state, group, success);
    if (all.length < group.data.members.length) return ok({ events: [success] });
    return ok({
      events: [
        success,
        makeEvent(
          'GroupSucceeded',
          { groupId: data.groupId, members: all },
          keys.group(data.groupId, 'GroupSucceeded'),
          metadata,
        ),
      ],
    });
  }

  if (earlier) {
    if (earlier.data.attemptId === data.attemptId) {
      return fail(
        'CONFLICT',
        `attempt ${data.attemptId} of ${data.drvPath} was already recorded as succeeded`,
        { original: earlier.id },
      );
    }
    return ok({ events: [], noop: `${data.drvPath} already succeeded in attempt ${earlier.data.attemptId}` });
  }
  if (state.outcome?.type === 'GroupSucceeded') {
    return fail('CONFLICT', `group ${data.groupId} already succeeded`, { original: state.outcome.id });
  }
  if (state.outcome) return ok({ events: [], noop: `group ${data.groupId} already failed` });
  return ok({
    events: [
      failed(group, state, metadata, {
        reason: 'member-failed',
        member,
        detail: data.reason ?? `${data.drvPath} failed in attempt ${data.attemptId}`,
      }),
    ],
  });
}

function expire(state: GroupState, { data, metadata }: ExpireDeadline): GroupDecision {
  const opened = requireOpened(state, data.groupId);
  if (!opened.ok) return opened;
  const group = opened.value;
  if (state.outcome)
    return ok({
      events: [],
      noop: `group ${data.groupId} already ${state.outcome.type === 'GroupSucceeded' ? 'succeeded' : 'failed'}`,
    });
  if (Date.parse(data.now) < Date.parse(group.data.deadline))
    return ok({ events: [], noop: `the deadline ${group.data.deadline} has not passed` });
  const done = Object.keys(state.succeeded).length;
  return ok({
    events: [
      failed(group, state, metadata, {
        reason: 'deadline',
        detail: `deadline ${group.data.deadline} passed with ${done} of ${group.data.members.length} members succeeded`,
      }),
    ],
  });
}

function decideValid(command: GroupCommand, state: GroupState): GroupDecision {
  switch (command.type) {
    case 'OpenGroup':
      return open(state, command);
    case 'RecordMemberOutcome':
      return recordOutcome(state, command);
    case 'ExpireDeadline':
      return expire(state, command);
    default: {
      const unreachable: never = command;
      return unreachable;
    }
  }
}

/** Validates the command, decides, and validates the resulting events; never throws for bad input. */
export function decideGroup(command: GroupCommand, state: GroupState): GroupDecision {
  return decideChecked(GROUP_COMMAND_SCHEMAS as Record<string, Check<unknown>>, command, (c) => decideValid(c, state));
}

export const groupDecider = {
  decide: decideGroup,
  evolve: evolveGroup,
  initialState: initialGroupState,
};
