/** Wire error codes. Every reply is `{ok: true, ...}` or `{ok: false, error: {code, message, details}}`. */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'CONFLICT',
  'NOT_FOUND',
  'FAILED_PRECONDITION',
  'PAYLOAD_TOO_LARGE',
  'UNKNOWN_SUBJECT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export type Reply<T extends object = Record<string, never>> = ({ ok: true } & T) | { ok: false; error: WireError };

export function okReply<T extends object>(body: T): { ok: true } & T {
  return { ok: true, ...body };
}

export function errorReply(code: ErrorCode, message: string, details?: Record<string, unknown>): { ok: false; error: WireError } {
  return { ok: false, error: details ? { code, message, details } : { code, message } };
}

/** HTTP status for each wire code, so the HTTP routes mirror the NATS replies. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FAILED_PRECONDITION: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNKNOWN_SUBJECT: 404,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};
