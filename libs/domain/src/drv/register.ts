/** Registration: the drv path is recomputed from the ATerm with libs/nix, never taken on trust. */
import {
  Derivation,
  NixError,
  derivationName,
  derivationPath,
  parseDerivation,
  printDerivation,
} from '@buildgraph/nix';
import { makeEvent } from '../commands';
import { idempotencyKeys as keys } from '../ids';
import { Result, fail, ok } from '../result';
import { RegisterDerivation } from './commands';
import { DrvDecision, accept, repeatOf } from './guards';
import { DrvState } from './state';

function atermError<T>(e: unknown): Result<T> {
  const nix = e instanceof NixError ? e : null;
  return fail('INVALID_ARGUMENT', `aterm: not a derivation Nix would write: ${(e as Error).message}`, {
    field: 'aterm',
    nixCode: nix?.code,
    ...(nix?.details ?? {}),
  });
}

function readAterm(aterm: string): Result<{ drv: Derivation; drvPath: string; name: string }> {
  try {
    const drv = parseDerivation(aterm);
    return ok({ drv, drvPath: derivationPath(drv), name: derivationName(drv) });
  } catch (e) {
    return atermError(e);
  }
}

/** The drv path an ATerm hashes to: the stream a RegisterDerivation without drvPath belongs to. */
export function registrationDrvPath(aterm: string): Result<string> {
  const r = readAterm(aterm);
  return r.ok ? ok(r.value.drvPath) : r;
}

/** Registration recomputes the drv path from the ATerm and refuses a mismatch. */
export function register(state: DrvState, { data, metadata }: RegisterDerivation): DrvDecision {
  const read = readAterm(data.aterm);
  if (!read.ok) return read;
  const { drv, drvPath, name } = read.value;
  if (printDerivation(drv) !== data.aterm) {
    // the stored text must be the one that hashes to drvPath
    return fail('INVALID_ARGUMENT', 'aterm: not in the canonical form Nix writes', {
      field: 'aterm',
      drvPath,
    });
  }
  if (data.drvPath !== undefined && data.drvPath !== drvPath) {
    return fail('INVALID_ARGUMENT', `drvPath: the ATerm hashes to ${drvPath}, not ${data.drvPath}`, {
      field: 'drvPath',
      claimed: data.drvPath,
      computed: drvPath,
    });
  }
  if (state.registered !== null) {
    if (state.registered.data.drvPath === drvPath) return repeatOf(state.registered);
    return fail('INVALID_ARGUMENT', `this stream holds ${state.registered.data.drvPath}, not ${drvPath}`, {
      field: 'drvPath',
    });
  }
  return accept(
    makeEvent(
      'DerivationRegistered',
      {
        drvPath,
        name,
        system: drv.system,
        outputs: drv.outputs,
        inputDrvs: drv.inputDrvs,
        inputSrcs: drv.inputSrcs,
        aterm: data.aterm,
      },
      keys.derivationRegistered(drvPath),
      metadata,
    ),
  );
}
