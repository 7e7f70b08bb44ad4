import { withoutSignedBody } from '@buildgraph/domain';
import type { RecordedEvent } from '@buildgraph/eventstore';

/** An event as the wire shows it: bigints as decimal strings. */
export function wireEvent(r: RecordedEvent): Record<string, unknown> {
  return { id: r.id, type: r.type, stream: r.stream, revision: r.revision.toString(), position: r.position.toString(), data: r.data, metadata: r.metadata };
}

/**
 * The event for notifications and the drv history: who signed (key name, signature) without the
 * signed request body, which can be a whole build log; the audit export (`/v1/events`) keeps it.
 */
export function wireEventWithoutBody(r: RecordedEvent): Record<string, unknown> {
  return { ...wireEvent(r), metadata: withoutSignedBody(r.metadata as { signer?: { body?: unknown } }) };
}
