import { createHash } from 'node:crypto';
import { printDerivation } from '@buildgraph/nix';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { BuildSession, SessionOutput } from './build-session';
import { FarmClient } from './client';
import { invalidPaths, readStoreDrv, StoreDrv } from './nix-store';
import { Report } from './reports';

/**
 * Fixed-output derivations verified for real: the fetcher is executed again (`nix-store --realise
 * --check` when the output is already here, a plain build otherwise), and the hash it produced is
 * reported as `fod.verified` or `fod.mismatch`. A FOD whose hash is cached "builds" forever even if
 * its fetcher broke; this is the only way to know.
 */
export interface FixedOutput {
  outputPath: string;
  /** `<algo>:<base16>`, as the service's FOD ledger spells the declared hash */
  expectedHash: string;
}

export function fixedOutputOf(d: StoreDrv): FixedOutput | undefined {
  const names = Object.keys(d.drv.outputs);
  const out = d.drv.outputs.out;
  if (names.length !== 1 || !out || out.hash === '') return undefined;
  return { outputPath: out.path, expectedHash: `${out.hashAlgo.replace(/^r:/, '')}:${out.hash}` };
}

/**
 * sha256 (hex) of the "unfixed" twin's ATerm: the derivation with its output hash, hash algorithm,
 * hash mode and output path blanked. Two FODs with the same fingerprint run the same fetcher on the
 * same inputs; a different fingerprint for the same output hash means the inputs changed.
 */
export function inputsFingerprint(d: StoreDrv): string {
  const env: Record<string, string> = { ...d.drv.env, out: '' };
  delete env.outputHash;
  delete env.outputHashAlgo;
  delete env.outputHashMode;
  const unfixed = { ...d.drv, outputs: { out: { path: '', hashAlgo: '', hash: '' } }, env };
  return createHash('sha256').update(printDerivation(unfixed)).digest('hex');
}

/** The hash Nix says the fetcher produced, from its "hash mismatch" error (SRI form, `got: sha256-...`). */
export function gotHash(message: string): string | undefined {
  return /got:\s+(\S+)/.exec(message)?.[1];
}

export interface FodOutcome {
  drvPath: string;
  result: 'verified' | 'mismatch' | 'unverified';
  expectedHash: string;
  actualHash?: string;
  attemptId?: string;
  message?: string;
}

export async function verifyFods(client: FarmClient, drvPaths: string[], realiseArgs: string[], out: SessionOutput): Promise<FodOutcome[]> {
  const fods = drvPaths.map((p) => {
    const d = readStoreDrv(p);
    const fixed = fixedOutputOf(d);
    if (!fixed) throw new CliError(`${p} is not a fixed-output derivation (one output "out" with a hash)`, EXIT_BAD_INPUT);
    return { d, fixed };
  });
  const invalid = await invalidPaths(fods.map((f) => f.fixed.outputPath));
  const present = fods.filter((f) => !invalid.has(f.fixed.outputPath));
  const absent = fods.filter((f) => invalid.has(f.fixed.outputPath));
  const closure = fods.map((f) => f.d);
  const attempts = new Map<string, { attemptId: string; outcome: string; message?: string }>();
  // --check needs the output present; a missing output is simply built, which runs the fetcher too
  for (const [group, args] of [
    [present, ['--check', ...realiseArgs]],
    [absent, realiseArgs],
  ] as const) {
    if (group.length === 0) continue;
    const r = await new BuildSession(client, closure, out).realise(
      group.map((f) => f.d.drvPath),
      [...args],
    );
    for (const a of r.attempts) attempts.set(a.drvPath, a);
  }
  const outcomes: FodOutcome[] = [];
  const reports: Report[] = [];
  for (const { d, fixed } of fods) {
    const a = attempts.get(d.drvPath);
    const base = { drvPath: d.drvPath, expectedHash: fixed.expectedHash };
    const actual = a?.message ? gotHash(a.message) : undefined;
    if (a && (a.outcome === 'succeeded' || actual)) {
      const payload = { drvPath: d.drvPath, attemptId: a.attemptId, farm: client.settings.farm, inputsFingerprint: inputsFingerprint(d), expectedHash: fixed.expectedHash };
      if (a.outcome === 'succeeded') {
        reports.push({ command: 'fod.verified', payload });
        outcomes.push({ ...base, result: 'verified', attemptId: a.attemptId });
      } else {
        reports.push({ command: 'fod.mismatch', payload: { ...payload, actualHash: actual } });
        outcomes.push({ ...base, result: 'mismatch', actualHash: actual, attemptId: a.attemptId });
      }
    } else {
      outcomes.push({ ...base, result: 'unverified', message: a?.message ?? 'Nix did not run its builder' });
    }
  }
  client.enqueue(...reports);
  return outcomes;
}
