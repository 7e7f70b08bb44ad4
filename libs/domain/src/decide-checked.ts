import { NixError } from '@buildgraph/nix';
import { Check, hasOwn } from './check';
import { Command, CommandMetadata, Decided, commandMetadataCheck } from './commands';
import { validateEvent } from './events/parse';
import { DomainEvent } from './events/types';
import { fail, ok } from './result';

/**
 * What every decider does around its own decisions: check the command's data and metadata against
 * its schema, decide (libs/nix refusing what it cannot model is bad input, not a crash), then check
 * each resulting event in exactly the form a reader gets back from the store. Never throws for bad input.
 */
export function decideChecked<C extends Command<string, unknown>, E extends DomainEvent>(
  schemas: Record<string, Check<unknown>>,
  command: C,
  decideValid: (command: C) => Decided<E>,
): Decided<E> {
  if (typeof command !== 'object' || command === null)
    return fail('INVALID_ARGUMENT', 'command: expected an object', { field: 'command' });
  const schema = hasOwn(schemas, command.type) ? schemas[command.type] : undefined;
  if (!schema)
    return fail('INVALID_ARGUMENT', `type: unknown command ${JSON.stringify(command.type)}`, { field: 'type' });
  const data = schema(command.data, 'data');
  if (!data.ok) return data;
  const meta = commandMetadataCheck(command.metadata, 'metadata');
  if (!meta.ok) return meta;
  let decided: Decided<E>;
  try {
    decided = decideValid({ type: command.type, data: data.value, metadata: meta.value as CommandMetadata } as C);
  } catch (e) {
    if (e instanceof NixError) return fail('INVALID_ARGUMENT', e.message, { nixCode: e.code, ...(e.details ?? {}) });
    throw e;
  }
  if (!decided.ok) return decided;
  const events: E[] = [];
  for (const event of decided.value.events) {
    const valid = validateEvent(event);
    if (!valid.ok) return valid;
    events.push(valid.value as E);
  }
  return ok({ ...decided.value, events });
}
