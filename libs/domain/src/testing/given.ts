/**
 * given/when/then over Jest for deciders (Emmett's DeciderSpecification, our own few lines):
 *
 *   spec.given(events).when(command).then(events)   // the events decided
 *   ...thenNothing() / thenDuplicateOf(event) / thenError(code)
 *
 * Exported for the projection and policy tests that reuse the same events.
 */
import { Decided } from '../commands';
import { DomainEvent } from '../events/types';
import { DomainErrorCode } from '../result';

export interface Decider<C, S, E extends DomainEvent> {
  decide(command: C, state: S): Decided<E>;
  evolve(state: S, event: E): S;
  initialState(): S;
}

export interface Then<E extends DomainEvent> {
  /** the decision itself, for assertions the helpers do not cover */
  readonly decided: Decided<E>;
  /** the events appended, compared whole (ids, data, metadata) */
  then(expected: E[]): E[];
  /** events of these types were appended; returns them for further assertions */
  thenTypes(...types: E['type'][]): E[];
  /** a documented no-op: nothing appended, not a repeat */
  thenNothing(): string;
  /** an identical repeat: nothing appended, the original event returned */
  thenDuplicateOf(original: E): void;
  thenError(code: DomainErrorCode, messagePart?: string | RegExp): void;
}

export function deciderSpec<C, S, E extends DomainEvent>(decider: Decider<C, S, E>) {
  return {
    given(events: E[] = []) {
      const state = events.reduce(decider.evolve, decider.initialState());
      return {
        state,
        when(command: C): Then<E> {
          const decided = decider.decide(command, state);
          const accepted = () => {
            if (!decided.ok)
              throw new Error(
                `expected the command to be accepted, got ${decided.error.code}: ${decided.error.message}`,
              );
            return decided.value;
          };
          return {
            decided,
            then(expected) {
              const d = accepted();
              expect(d.events).toEqual(expected);
              return d.events;
            },
            thenTypes(...types) {
              const d = accepted();
              expect(d.events.map((e) => e.type)).toEqual(types);
              return d.events;
            },
            thenNothing() {
              const d = accepted();
              expect(d.events).toEqual([]);
              expect(d.duplicateOf).toBeUndefined();
              expect(d.noop).toEqual(expect.any(String));
              return d.noop as string;
            },
            thenDuplicateOf(original) {
              const d = accepted();
              expect(d.events).toEqual([]);
              expect(d.duplicateOf).toEqual(original);
            },
            thenError(code, messagePart) {
              if (decided.ok)
                throw new Error(
                  `expected ${code}, but the command was accepted with ${JSON.stringify(decided.value.events.map((e) => e.type))}`,
                );
              expect(decided.error.code).toBe(code);
              if (messagePart !== undefined) expect(decided.error.message).toMatch(messagePart);
            },
          };
        },
      };
    },
  };
}

/** Runs a sequence of commands, each against the state the previous ones produced; throws on the first refusal. */
export function runCommands<C, S, E extends DomainEvent>(
  decider: Decider<C, S, E>,
  commands: C[],
  given: E[] = [],
): E[] {
  let state = given.reduce(decider.evolve, decider.initialState());
  const log: E[] = [...given];
  for (const command of commands) {
    const decided = decider.decide(command, state);
    if (!decided.ok) throw new Error(`${decided.error.code}: ${decided.error.message}`);
    for (const e of decided.value.events) {
      state = decider.evolve(state, e);
      log.push(e);
    }
  }
  return log;
}
