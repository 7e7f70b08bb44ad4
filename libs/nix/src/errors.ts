/**
 * Errors raised by the Nix model. Every failure carries a stable `code` so callers (the service, the CLI)
 * can map it to a wire error without parsing messages.
 */
export type NixErrorCode =
  | 'DRV_PARSE'
  | 'STORE_PATH'
  | 'BASE32'
  | 'HASH'
  | 'INVALID_DERIVATION'
  | 'MISSING_REALISATION'
  | 'NOT_A_DERIVATION'
  | 'REALISATION_ID'
  | 'CYCLE';

export class NixError extends Error {
  readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(code: NixErrorCode | string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'NixError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/** A .drv text that Nix would not have written; `offset` is a byte offset into its UTF-8 encoding. */
export class DrvParseError extends NixError {
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('DRV_PARSE', `${message} at byte ${offset}`, { offset });
    this.name = 'DrvParseError';
    this.offset = offset;
  }
}
