import { ProjectionError } from './errors';

/**
 * JSON with object keys in sorted order, so the same document always serialises to the same bytes
 * whatever order its keys were added in. That is what makes read-model digests comparable between a
 * live store and a replay.
 */
export function canonicalJson(value: unknown): string {
  const out = write(value);
  if (out === undefined)
    throw new ProjectionError('INVALID_DOC', `a read-model document must be JSON, got ${typeof value}`);
  return out;
}

/** Strings that JSON writes as themselves between quotes: no quote, backslash or control character. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point: they need escaping
const PLAIN = /^[^"\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]*$/;

function str(s: string): string {
  return s.length < 200 && PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s);
}

function write(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return str(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) {
        let s = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) s += ',';
          s += write(value[i]) ?? 'null';
        }
        return s + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      // most documents are built in key order already: sorting only when needed is cheaper
      for (let i = 1; i < keys.length; i++) {
        if (keys[i - 1] > keys[i]) {
          keys.sort();
          break;
        }
      }
      let s = '{';
      let first = true;
      for (const k of keys) {
        const v = write(obj[k]);
        if (v === undefined) continue; // as JSON.stringify: undefined members are omitted
        s += (first ? '' : ',') + str(k) + ':' + v;
        first = false;
      }
      return s + '}';
    }
    case 'bigint':
      throw new ProjectionError(
        'INVALID_DOC',
        'bigint in a read-model document: store it as a decimal string',
      );
    default:
      return undefined;
  }
}
