/**
 * Expected failures are values, not exceptions: a decider returns `Result`, and the service maps the
 * error code to the wire (the codes are the bus contract's, see DESIGN.md "Bus contract").
 */
export type DomainErrorCode =
  'INVALID_ARGUMENT' | 'NOT_FOUND' | 'CONFLICT' | 'FAILED_PRECONDITION' | 'PERMISSION_DENIED';

export interface DomainError {
  code: DomainErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: DomainError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(
  code: DomainErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): Result<T> {
  return { ok: false, error: { code, message, details } };
}

export function invalid<T = never>(
  field: string,
  message: string,
  details: Record<string, unknown> = {},
): Result<T> {
  return fail('INVALID_ARGUMENT', `${field}: ${message}`, { field, ...details });
}

/**
 * Thrown only where a Result cannot be returned: reading back an event the log should never have
 * accepted (see `fromStored`). It carries the same shape as a DomainError.
 */
export class DomainException extends Error {
  constructor(readonly error: DomainError) {
    super(error.message);
    this.name = 'DomainException';
  }
  get code(): DomainErrorCode {
    return this.error.code;
  }
}
