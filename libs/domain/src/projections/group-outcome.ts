/**
 * Group outcome: a multi-machine group succeeds or fails as a unit. One document per groupId, with
 * each member's state and, once failed, the member and the reason that decided it.
 */
import type { GroupEvent, DomainEvent, MemberAttempt } from '../events/types';
import { GROUP_EVENT_TYPES } from '../events/types';
import { NO_KEYS, ReadModel } from './read-model';

export const GROUP_OUTCOME = 'group-outcome';

export interface GroupMemberState {
  drvPath: string;
  machine?: string;
  state: 'pending' | 'succeeded';
  attemptId?: string;
  at?: string;
}

export interface GroupOutcomeDoc {
  groupId: string;
  status: 'open' | 'succeeded' | 'failed';
  deadline: string;
  openedAt: string;
  members: GroupMemberState[];
  failure?: {
    reason: 'member-failed' | 'deadline';
    member?: MemberAttempt;
    detail: string;
    succeeded: MemberAttempt[];
    at: string;
  };
  succeededAt?: string;
}

const GROUP_TYPES: ReadonlySet<string> = new Set(GROUP_EVENT_TYPES);

export function isGroupEvent(event: DomainEvent): event is GroupEvent {
  return GROUP_TYPES.has(event.type);
}

export function evolveGroupOutcome(
  prev: GroupOutcomeDoc | undefined,
  event: GroupEvent,
): GroupOutcomeDoc | undefined {
  switch (event.type) {
    case 'GroupOpened':
      if (prev) return prev;
      return {
        groupId: event.data.groupId,
        status: 'open',
        deadline: event.data.deadline,
        openedAt: event.metadata.recordedAt,
        members: event.data.members.map((m) =>
          m.machine !== undefined
            ? { drvPath: m.drvPath, machine: m.machine, state: 'pending' }
            : { drvPath: m.drvPath, state: 'pending' },
        ),
      };
    case 'GroupMemberSucceeded': {
      if (!prev) return prev;
      const e = event.data;
      return {
        ...prev,
        members: prev.members.map((m) =>
          m.drvPath === e.drvPath && m.state === 'pending'
            ? { ...m, state: 'succeeded', attemptId: e.attemptId, at: e.at }
            : m,
        ),
      };
    }
    case 'GroupSucceeded':
      return prev && prev.status === 'open'
        ? { ...prev, status: 'succeeded', succeededAt: event.metadata.recordedAt }
        : prev;
    case 'GroupFailed': {
      if (!prev || prev.status !== 'open') return prev;
      const e = event.data;
      const failure: NonNullable<GroupOutcomeDoc['failure']> = {
        reason: e.reason,
        detail: e.detail,
        succeeded: e.succeeded,
        at: event.metadata.recordedAt,
      };
      if (e.member) failure.member = e.member;
      return { ...prev, status: 'failed', failure };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const groupOutcomeModel: ReadModel<GroupOutcomeDoc> = {
  name: GROUP_OUTCOME,
  version: 1,
  keys: (event) => (isGroupEvent(event) ? [event.data.groupId] : NO_KEYS),
  evolve: (doc, event) => (isGroupEvent(event) ? evolveGroupOutcome(doc, event) : doc),
};
