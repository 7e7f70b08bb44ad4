import { READ_MODELS, fromStored, isDomainEventType, type DomainEvent } from '@buildgraph/domain';
import type { RecordedEvent } from '@buildgraph/eventstore';
import type { Projection } from './projection';

/** Every read model of DESIGN.md, in dependency order (see READ_MODELS). */
export const PROJECTIONS: readonly Projection<DomainEvent, unknown>[] = READ_MODELS;

/** Stored event -> current-version domain event; events of other kinds (system streams) are skipped. */
export function decodeEvent(recorded: RecordedEvent): DomainEvent | undefined {
  if (!isDomainEventType(recorded.type)) return undefined;
  return fromStored(recorded);
}
