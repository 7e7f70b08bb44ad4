/** Why a read-store call failed; the service maps these to wire codes (INVALID_* -> INVALID_ARGUMENT, the rest -> UNAVAILABLE). */
export type ProjectionErrorCode =
  | 'INVALID_DOC' // evolve produced something that is not JSON
  | 'INVALID_ARGUMENT' // bad query or option
  | 'READ_STORE_CORRUPT' // the file is not a buildgraph read store, or a stored doc is not JSON
  | 'READ_STORE_MISMATCH' // the file was built by other projections (names/versions differ)
  | 'EVENT_REJECTED'; // a projection threw on an event (the batch is not applied)

export class ProjectionError extends Error {
  constructor(
    readonly code: ProjectionErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProjectionError';
  }
}
