/**
 * A read model as pure data and functions, in the shape libs/projections runs (its `Projection`): which
 * documents an event touches, and how each changes. No storage here: the runtime owns that.
 */
import type { DomainEvent } from '../events/types';

/** Read access to other documents, as they are after this event's earlier read models (list order). */
export interface DocLookup {
  get<D = unknown>(model: string, key: string): D | undefined;
}

export interface ReadModel<D> {
  readonly name: string;
  readonly version: number;
  /** evolve never looks at the previous document (an index entry): the runtime may skip loading it */
  readonly blind?: boolean;
  keys(event: DomainEvent, docs: DocLookup): readonly string[];
  /** Pure; returns `doc` itself when nothing changes, undefined to delete. Never mutates `doc`. */
  evolve(doc: D | undefined, event: DomainEvent, key: string, docs: DocLookup): D | undefined;
}

export const NO_KEYS: readonly string[] = Object.freeze([]);

/** Keys of index documents are `<a> <b> ...`: store paths, drv paths and attempt ids contain no spaces. */
export const KEY_SEP = ' ';

/** Adds to a sorted array of strings without mutating it; returns the same array if already present. */
export function sortedAdd(list: readonly string[], value: string): readonly string[] {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] === value) return list;
  return [...list.slice(0, lo), value, ...list.slice(lo)];
}

/** When an event happened, by the event's own clock where it has one, else when it was recorded. */
export function eventTime(event: DomainEvent): string {
  switch (event.type) {
    case 'AttemptStarted':
      return event.data.startedAt;
    case 'AttemptSucceeded':
    case 'AttemptFailed':
      return event.data.finishedAt;
    case 'GroupMemberSucceeded':
      return event.data.at;
    default:
      return event.metadata.recordedAt;
  }
}
