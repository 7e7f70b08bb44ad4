import type { RecordedEvent } from '@buildgraph/eventstore';

/** An event as the wire shows it: bigints as decimal strings. */
export function wireEvent(r: RecordedEvent): Record<string, unknown> {
  return { id: r.id, type: r.type, stream: r.stream, revision: r.revision.toString(), position: r.position.toString(), data: r.data, metadata: r.metadata };
}
