import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { COMMAND_DTOS } from './commands';
import { WireError } from './errors';
import { LIMITS } from './limits';
import { CommandName } from './subjects';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: WireError };

type DtoOf<N extends CommandName> = InstanceType<(typeof COMMAND_DTOS)[N]>;

/** Parses a raw request body as JSON, refusing oversized bodies and non-objects. */
export function parseJsonBody(body: string | Uint8Array, maxBytes: number = LIMITS.requestBytes): Parsed<Record<string, unknown>> {
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (bytes > maxBytes) {
    return { ok: false, error: { code: 'PAYLOAD_TOO_LARGE', message: `request body is ${bytes} bytes; the limit is ${maxBytes}`, details: { bytes, limit: maxBytes } } };
  }
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: { code: 'INVALID_ARGUMENT', message: `malformed JSON: ${(e as Error).message}` } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: { code: 'INVALID_ARGUMENT', message: 'request body must be a JSON object' } };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function flatten(errors: ValidationError[], prefix = ''): { field: string; problems: string[] }[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/** Validates a parsed body against the command's DTO: wrong types, missing and unknown fields are refused. */
export function validateCommand<N extends CommandName>(name: N, body: Record<string, unknown>): Parsed<DtoOf<N>> {
  const dto = plainToInstance(COMMAND_DTOS[name] as new () => DtoOf<N>, body);
  const errors = validateSync(dto as object, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    const fields = flatten(errors);
    return {
      ok: false,
      error: {
        code: 'INVALID_ARGUMENT',
        message: `invalid ${name}: ${fields.map((f) => `${f.field}: ${f.problems.join(', ')}`).join('; ')}`,
        details: { fields },
      },
    };
  }
  return { ok: true, value: dto };
}

/** Body bytes -> validated command, or the wire error to answer with. */
export function parseCommand<N extends CommandName>(name: N, body: string | Uint8Array): Parsed<DtoOf<N>> {
  const parsed = parseJsonBody(body);
  return parsed.ok ? validateCommand(name, parsed.value) : parsed;
}
