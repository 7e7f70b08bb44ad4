/**
 * A tiny validator for plain data at the edge of the domain: each check takes an unknown value and the
 * field path it sits at, and returns the typed value or an INVALID_ARGUMENT error naming that field.
 * Hand-written rather than class-validator because libs/domain stays free of framework code.
 */
import { isStorePath } from '@buildgraph/nix';
import { DomainError, Result, invalid, ok } from './result';

export type Check<T> = (value: unknown, field: string) => Result<T>;

/**
 * Ids, one rule per kind, the same as libs/contracts (validators.ts) and libs/eventstore (stream-names.ts);
 * see docs/contracts.md. None contains '/', so keys can use it as a separator.
 * ID_PATTERN is the attemptId rule, and what stored events are read with (never tightened: old events stay readable).
 */
export const ID_PATTERN = /^[A-Za-z0-9_\-:@]{1,128}$/;
/** groupId: one NATS subject token and a stream-name suffix (`group-<groupId>`, at most 128 characters). */
export const GROUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/;
/** farm: a logical name, subject-token-safe like groupId. */
export const FARM_PATTERN = GROUP_ID_PATTERN;
/** machine: a host name (dots allowed), optionally user@host or host:port; never a subject token. ID_PATTERN plus '.'. */
export const MACHINE_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
/** Nix output names (what `outputs = [...]` accepts). */
export const OUTPUT_NAME_PATTERN = /^[A-Za-z0-9+\-._?=]{1,64}$/;
const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const MAX_REASON_CHARS = 1024;
export const MAX_LOG_TAIL_BYTES = 4096;

/** Own keys only: ids such as "constructor" or "__proto__" are valid ids, not prototype members. */
export function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** Sets a data property even for the key "__proto__". */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

export const string =
  (opts: { min?: number; max?: number; pattern?: RegExp; what?: string } = {}): Check<string> =>
  (value, field) => {
    if (typeof value !== 'string') return invalid(field, `expected a string, got ${typeName(value)}`);
    if (value.length < (opts.min ?? 0))
      return invalid(field, opts.min === 1 ? 'must not be empty' : `must be at least ${opts.min} characters`);
    if (opts.max !== undefined && value.length > opts.max)
      return invalid(field, `must be at most ${opts.max} characters`);
    if (opts.pattern && !opts.pattern.test(value))
      return invalid(field, `must be ${opts.what ?? `a string matching ${opts.pattern}`}`);
    return ok(value);
  };

export const id: Check<string> = string({ pattern: ID_PATTERN, what: '1-128 characters of [A-Za-z0-9_-:@]' });
export const attemptId: Check<string> = id;
export const groupId: Check<string> = string({
  pattern: GROUP_ID_PATTERN,
  what: '1-120 characters of [A-Za-z0-9_-], starting with a letter or digit',
});
export const farm: Check<string> = string({
  pattern: FARM_PATTERN,
  what: '1-120 characters of [A-Za-z0-9_-], starting with a letter or digit',
});
export const machine: Check<string> = string({
  pattern: MACHINE_PATTERN,
  what: '1-128 characters of [A-Za-z0-9_.-:@]',
});
export const outputName: Check<string> = string({ pattern: OUTPUT_NAME_PATTERN, what: 'a Nix output name' });
export const reason: Check<string> = string({ min: 1, max: MAX_REASON_CHARS });
export const sha256Hex: Check<string> = string({
  pattern: SHA256_HEX,
  what: '64 lowercase hex digits (sha256)',
});
export const uuid: Check<string> = string({ pattern: UUID_PATTERN, what: 'a lowercase UUID' });

/** ISO 8601 in UTC with a Z, as `Date.prototype.toISOString` writes it; a real calendar time. */
export const isoTime: Check<string> = (value, field) => {
  const s = string({ pattern: ISO_PATTERN, what: 'an ISO 8601 UTC time like 2024-01-31T12:00:00Z' })(
    value,
    field,
  );
  if (!s.ok) return s;
  return Number.isNaN(Date.parse(s.value)) ? invalid(field, 'is not a real calendar time') : s;
};

export const storePath: Check<string> = (value, field) => {
  if (typeof value !== 'string') return invalid(field, `expected a store path, got ${typeName(value)}`);
  return isStorePath(value)
    ? ok(value)
    : invalid(field, `is not a valid Nix store path: ${JSON.stringify(value.slice(0, 200))}`);
};

export const drvPath: Check<string> = (value, field) => {
  const p = storePath(value, field);
  if (!p.ok) return p;
  return p.value.endsWith('.drv') ? p : invalid(field, 'must be a store path ending in .drv');
};

/** `<drvPath>^<output>`: the key of inputRealisations, Nix's realisation id by path. */
export const realisationKey: Check<string> = (value, field) => {
  if (typeof value !== 'string')
    return invalid(field, `expected "<drvPath>^<output>", got ${typeName(value)}`);
  const caret = value.lastIndexOf('^');
  if (caret < 0) return invalid(field, 'must be "<drvPath>^<output>"');
  const d = drvPath(value.slice(0, caret), field);
  if (!d.ok) return d;
  const o = outputName(value.slice(caret + 1), field);
  return o.ok ? ok(value) : o;
};

export const integer =
  (min: number, max: number): Check<number> =>
  (value, field) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? ok(value)
      : invalid(field, `expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);

export const boolean: Check<boolean> = (value, field) =>
  typeof value === 'boolean' ? ok(value) : invalid(field, `expected a boolean, got ${typeName(value)}`);

export const literal =
  <T extends string>(values: readonly T[]): Check<T> =>
  (value, field) =>
    typeof value === 'string' && (values as readonly string[]).includes(value)
      ? ok(value as T)
      : invalid(field, `must be one of ${values.join(', ')}, got ${JSON.stringify(value)}`);

export const array =
  <T>(item: Check<T>, opts: { min?: number; max: number; unique?: boolean }): Check<T[]> =>
  (value, field) => {
    if (!Array.isArray(value)) return invalid(field, `expected an array, got ${typeName(value)}`);
    if (value.length < (opts.min ?? 0)) return invalid(field, `must have at least ${opts.min} entries`);
    if (value.length > opts.max) return invalid(field, `must have at most ${opts.max} entries`);
    const out: T[] = [];
    for (let i = 0; i < value.length; i++) {
      const r = item(value[i], `${field}[${i}]`);
      if (!r.ok) return r;
      out.push(r.value);
    }
    if (
      opts.unique &&
      new Set(out.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))).size !== out.length
    )
      return invalid(field, 'must not repeat entries');
    return ok(out);
  };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const record =
  <T>(key: Check<string>, item: Check<T>, opts: { min?: number; max: number }): Check<Record<string, T>> =>
  (value, field) => {
    if (!isPlainObject(value)) return invalid(field, `expected an object, got ${typeName(value)}`);
    const keys = Object.keys(value);
    if (keys.length < (opts.min ?? 0)) return invalid(field, `must have at least ${opts.min} entries`);
    if (keys.length > opts.max) return invalid(field, `must have at most ${opts.max} entries`);
    const out: Record<string, T> = {};
    // sorted so that equal maps serialise identically, whatever order the sender used
    for (const k of keys.sort()) {
      const kr = key(k, `${field} key ${JSON.stringify(k)}`);
      if (!kr.ok) return kr;
      const r = item(value[k], `${field}[${JSON.stringify(k)}]`);
      if (!r.ok) return r;
      setOwn(out, k, r.value);
    }
    return ok(out);
  };

export interface Optional<T> {
  optional: true;
  check: Check<T>;
}
export const optional = <T>(check: Check<T>): Optional<T> => ({ optional: true, check });

type Shape = Record<string, Check<unknown> | Optional<unknown>>;
type Out<S extends Shape> = {
  [K in keyof S as S[K] extends Optional<unknown> ? never : K]: S[K] extends Check<infer T> ? T : never;
} & {
  [K in keyof S as S[K] extends Optional<unknown> ? K : never]?: S[K] extends Optional<infer T> ? T : never;
};

/** An object with exactly these fields: a missing required field or an unknown one is refused by name. */
export const object = <S extends Shape>(shape: S): Check<Out<S>> => {
  // the shape's fields, looked up once (this runs for every command and every event on the intake path)
  const fields = Object.entries(shape).map(([k, spec]) =>
    'optional' in spec ? { k, optional: true, check: spec.check } : { k, optional: false, check: spec },
  );
  return (value, field) => {
    if (!isPlainObject(value)) return invalid(field, `expected an object, got ${typeName(value)}`);
    for (const k in value) {
      if (hasOwn(value, k) && !hasOwn(shape, k)) return invalid(`${field}.${k}`, 'is not a known field');
    }
    const out: Record<string, unknown> = {};
    for (const { k, optional: isOptional, check } of fields) {
      const v = value[k];
      if (v === undefined) {
        if (isOptional) continue;
        return invalid(`${field}.${k}`, 'is required');
      }
      const r = check(v, `${field}.${k}`);
      if (!r.ok) return r;
      setOwn(out, k, r.value);
    }
    return ok(out as Out<S>);
  };
};

/** A union told apart by its `kind` field. */
export const tagged =
  <T>(variants: Record<string, Check<T>>): Check<T> =>
  (value, field) => {
    if (!isPlainObject(value)) return invalid(field, `expected an object, got ${typeName(value)}`);
    const kind = value.kind;
    if (typeof kind !== 'string' || !hasOwn(variants, kind))
      return invalid(`${field}.kind`, `must be one of ${Object.keys(variants).join(', ')}`);
    return variants[kind](value, field);
  };

export const refine =
  <T>(check: Check<T>, rule: (value: T, field: string) => DomainError | null): Check<T> =>
  (value, field) => {
    const r = check(value, field);
    if (!r.ok) return r;
    const e = rule(r.value, field);
    return e ? { ok: false, error: e } : r;
  };

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** JSON with object keys sorted at every level: equal data, whatever order its producer wrote keys in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
