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
 * insertion order, so JSON.stringify differs from Nix's text for such env names; compare parsed values.
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
