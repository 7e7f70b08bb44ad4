import {
  CURRENT_SCHEMA_VERSION,
  READ_MODELS,
  fromStored,
  isDomainEventType,
  type DomainEvent,
} from '@buildgraph/domain';
import type { RecordedEvent } from '@buildgraph/eventstore';
import type { Projection } from './projection';

/** Every read model of DESIGN.md, in dependency order (see READ_MODELS). */
export const PROJECTIONS: readonly Projection<DomainEvent, unknown>[] = READ_MODELS;

/**
 * Stored event -> current-version domain event; events of other kinds (system streams) are skipped.
 * An event already at the current schema version was validated by the domain when it was appended, so
 * it is taken as it is (replay speed); older versions go through fromStored, which validates and upcasts.
 * A malformed event that slips through makes a projection throw, which the runner records as rejected.
 */
export function decodeEvent(recorded: RecordedEvent): DomainEvent | undefined {
  if (!isDomainEventType(recorded.type)) return undefined;
  const version = (recorded.metadata as { schemaVersion?: unknown }).schemaVersion;
  if (
    version === CURRENT_SCHEMA_VERSION[recorded.type] &&
    typeof recorded.data === 'object' &&
    recorded.data !== null
  ) {
    return {
      id: recorded.id,
      type: recorded.type,
      data: recorded.data,
      metadata: recorded.metadata,
    } as unknown as DomainEvent;
  }
  return fromStored(recorded);
}
