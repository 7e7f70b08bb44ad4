/**
 * The JSON form of a derivation that `nix show-derivation` (Nix 2.8) prints under the drv path key:
 * outputs, inputSrcs, inputDrvs, system, builder, args, env, with Nix's per-output fields.
 */
import { Derivation, outputKind, sortedByUtf8 } from './derivation';

export interface DerivationJsonOutput {
  path?: string;
  hashAlgo?: string;
  hash?: string;
  impure?: true;
}

export interface DerivationJson {
  outputs: Record<string, DerivationJsonOutput>;
  inputSrcs: string[];
  inputDrvs: Record<string, string[]>;
  system: string;
  builder: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * Keys are inserted in Nix's (byte) order. JS objects list integer-like keys ("0", "42") first whatever the
 * insertion order, and JSON.stringify writes \b and \f where Nix writes \u0008 and \u000c: for Nix's exact
 * text use showDerivation; compare parsed values otherwise.
 */
export function derivationToJson(drv: Derivation): DerivationJson {
  const outputs: Record<string, DerivationJsonOutput> = {};
  for (const name of sortedByUtf8(Object.keys(drv.outputs))) {
    const out = drv.outputs[name];
    switch (outputKind(out)) {
      case 'input-addressed':
        outputs[name] = { path: out.path };
        break;
      case 'fixed':
        outputs[name] = { path: out.path, hashAlgo: out.hashAlgo, hash: out.hash };
        break;
      case 'floating':
        outputs[name] = { hashAlgo: out.hashAlgo };
        break;
      case 'impure':
        outputs[name] = { hashAlgo: out.hashAlgo, impure: true };
        break;
      case 'deferred':
        outputs[name] = {};
        break;
    }
  }
  const inputDrvs: Record<string, string[]> = {};
  for (const drvPath of sortedByUtf8(Object.keys(drv.inputDrvs))) inputDrvs[drvPath] = [...sortedByUtf8(drv.inputDrvs[drvPath])];
  const env: Record<string, string> = {};
  for (const key of sortedByUtf8(Object.keys(drv.env))) defineKey(env, key, drv.env[key]);
  for (const name of Object.keys(outputs)) defineKey(outputs, name, outputs[name]);
  return {
    outputs,
    inputSrcs: [...sortedByUtf8(drv.inputSrcs)],
    inputDrvs,
    system: drv.system,
    builder: drv.builder,
    args: [...drv.args],
    env,
  };
}

/** Sets an own property even for "__proto__", which plain assignment would treat as the prototype. */
function defineKey<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}


/** A JSON value whose object keys keep the order given (JS objects move integer-like keys first). */
type Ordered = string | true | Ordered[] | { entries: Array<[string, Ordered]> };

/**
 * The exact text `nix show-derivation <drvPath>` (Nix 2.8) prints, newline included: derivationToJson under
 * the drv path, indented by two, keys in Nix's byte order, strings escaped as Nix's json.cc does.
 */
export function showDerivation(drvPath: string, drv: Derivation): string {
  const json = derivationToJson(drv);
  const outputs = sortedByUtf8(Object.keys(json.outputs)).map((name): [string, Ordered] => {
    const out = json.outputs[name];
    const fields: Array<[string, Ordered]> = [];
    if (out.path !== undefined) fields.push(['path', out.path]);
    if (out.hashAlgo !== undefined) fields.push(['hashAlgo', out.hashAlgo]);
    if (out.hash !== undefined) fields.push(['hash', out.hash]);
    if (out.impure) fields.push(['impure', true]);
    return [name, { entries: fields }];
  });
  const value: Ordered = {
    entries: [
      ['outputs', { entries: outputs }],
      ['inputSrcs', json.inputSrcs],
      ['inputDrvs', { entries: sortedByUtf8(Object.keys(json.inputDrvs)).map((p): [string, Ordered] => [p, json.inputDrvs[p]]) }],
      ['system', json.system],
      ['builder', json.builder],
      ['args', json.args],
      ['env', { entries: sortedByUtf8(Object.keys(json.env)).map((k): [string, Ordered] => [k, json.env[k]]) }],
    ],
  };
  return pretty({ entries: [[drvPath, value]] }, 0) + '\n';
}

function pretty(value: Ordered, depth: number): string {
  if (value === true) return 'true';
  if (typeof value === 'string') return jsonString(value);
  const inner = '  '.repeat(depth + 1);
  if (Array.isArray(value)) {
    return value.length === 0 ? '[]' : `[\n${value.map((v) => inner + pretty(v, depth + 1)).join(',\n')}\n${'  '.repeat(depth)}]`;
  }
  const { entries } = value;
  return entries.length === 0 ? '{}' : `{\n${entries.map(([k, v]) => `${inner}${jsonString(k)}: ${pretty(v, depth + 1)}`).join(',\n')}\n${'  '.repeat(depth)}}`;
}

/** Nix's toJSON for strings: \" \\ \n \r \t, other control characters as \u00xx, everything else raw. */
function jsonString(s: string): string {
  let out = '"';
  let segment = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(segment, i);
    out += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c === 0x09 ? '\\t' : '\\u' + c.toString(16).padStart(4, '0');
    segment = i + 1;
  }
  return out + s.slice(segment) + '"';
}
