import type { ExpectedRevision } from './port';

/**
 * Why an event-store call failed. Callers map these to wire errors:
 * WRONG_EXPECTED_REVISION -> CONFLICT, INVALID_* -> INVALID_ARGUMENT, the rest -> UNAVAILABLE.
 */
export type EventStoreErrorCode =
  | 'INVALID_STREAM' // stream name outside the allowed alphabet/shape (see stream-names.ts)
  | 'INVALID_EVENT' // id not a UUID, bad type, data not JSON-serialisable, metadata not an object
  | 'INVALID_ARGUMENT' // other bad arguments (empty append, negative revision, bad filter)
  | 'WRONG_EXPECTED_REVISION' // optimistic concurrency conflict
  | 'DUPLICATE_EVENT_ID' // some (not all) ids of an append are already stored, or stored elsewhere
  | 'STORE_CORRUPT' // the store's file/schema is not what it should be
  | 'STORE_CLOSED' // used after close()
  | 'UNAVAILABLE'; // I/O failure, server unreachable, timeouts

export class EventStoreError extends Error {
  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EventStoreError';
  }
}

/** The stream's last revision is not what the caller expected. */
export class WrongExpectedRevisionError extends EventStoreError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's actual last revision, or 'no-stream'. */
    readonly actual: bigint | 'no-stream',
  ) {
    super('WRONG_EXPECTED_REVISION', `stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`, {
      stream,
      expected: String(expected),
      actual: String(actual),
    });
    this.name = 'WrongExpectedRevisionError';
  }
}

export function isEventStoreError(err: unknown, code?: EventStoreErrorCode): err is EventStoreError {
  return err instanceof EventStoreError && (code === undefined || err.code === code);
}
