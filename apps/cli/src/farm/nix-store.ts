import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Derivation, DrvParseError, NixError, parseDerivation } from '@buildgraph/nix';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/**
 * The local Nix store as a farm sees it: .drv files read from the store directory, and the few
 * questions only Nix can answer asked through its own commands (nix-instantiate, nix-store).
 */
export interface StoreDrv {
  drvPath: string;
  aterm: string;
  drv: Derivation;
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 256 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}

export function readStoreDrv(drvPath: string): StoreDrv {
  let aterm: string;
  try {
    aterm = readFileSync(drvPath, 'utf8');
  } catch (e) {
    throw new CliError(`${drvPath}: cannot read the derivation from the store: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, EXIT_BAD_INPUT);
  }
  try {
    return { drvPath, aterm, drv: parseDerivation(aterm) };
  } catch (e) {
    if (e instanceof DrvParseError || e instanceof NixError) throw new CliError(`${drvPath}: ${e.message}`, EXIT_BAD_INPUT);
    throw e;
  }
}

/** Every derivation the given ones need, inputs before the derivations that use them. */
export function drvClosure(roots: string[]): StoreDrv[] {
  const seen = new Map<string, StoreDrv>();
  const order: StoreDrv[] = [];
  // iterative post-order: deep closures (thousands of drvs in a chain) must not overflow the stack
  const stack: { path: string; expanded: boolean }[] = roots.map((path) => ({ path, expanded: false })).reverse();
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(seen.get(top.path)!);
      continue;
    }
    if (seen.has(top.path)) continue;
    const d = readStoreDrv(top.path);
    seen.set(top.path, d);
    stack.push({ path: top.path, expanded: true });
    for (const input of Object.keys(d.drv.inputDrvs).sort().reverse()) {
      if (!seen.has(input)) stack.push({ path: input, expanded: false });
    }
  }
  return order;
}

/** `nix-instantiate FILE [args]` -> the .drv paths it printed. */
export async function instantiate(file: string, args: string[]): Promise<string[]> {
  const r = await run('nix-instantiate', [file, ...args]);
  if (r.code !== 0) throw new CliError(`nix-instantiate ${file} failed (exit ${r.code}):\n${r.stderr.trim()}`, EXIT_BAD_INPUT);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.endsWith('.drv'))
    .map((l) => l.replace(/!.*$/, ''));
}

/** Which of these store paths are not valid in the local store. */
export async function invalidPaths(paths: string[]): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  const r = await run('nix-store', ['--check-validity', '--print-invalid', ...paths]);
  if (r.code !== 0) throw new CliError(`nix-store --check-validity failed (exit ${r.code}): ${r.stderr.trim()}`);
  return new Set(r.stdout.split('\n').filter(Boolean));
}

/** When Nix registered each valid path (its ValidPathInfo registrationTime), for paths that are valid. */
export async function registrationTimes(paths: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (paths.length === 0) return out;
  const r = await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', ...paths]);
  if (r.code !== 0) return out;
  try {
    for (const info of JSON.parse(r.stdout) as { path: string; registrationTime?: number; valid?: boolean }[]) {
      if (info.valid !== false && typeof info.registrationTime === 'number') out.set(info.path, info.registrationTime);
    }
  } catch {
    /* an older nix printing something else: no times */
  }
  return out;
}

/** The build log Nix kept for a derivation (`nix-store --read-log`), or undefined. */
export async function readBuildLog(drvPath: string): Promise<string | undefined> {
  const r = await run('nix-store', ['--read-log', drvPath]);
  return r.code === 0 ? r.stdout : undefined;
}

/**
 * The output paths of a CA derivation after it was built (its realisations), for outputs whose path the
 * .drv leaves empty. Asked through `nix realisation info` (experimental in Nix 2.8).
 */
export async function realisations(drvPath: string, outputs: string[]): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  if (outputs.length === 0) return found;
  // Nix 2.8 takes the .drv itself as the installable (all its outputs); `drv^out` came later
  const r = await run('nix', ['--extra-experimental-features', 'nix-command ca-derivations', 'realisation', 'info', '--json', drvPath]);
  if (r.code !== 0) return found;
  try {
    for (const info of JSON.parse(r.stdout) as { id?: string; outPath?: string }[]) {
      const out = info.id?.split('!')[1];
      if (out && outputs.includes(out) && info.outPath) found[out] = info.outPath.startsWith('/') ? info.outPath : `${storeDirOf(drvPath)}/${info.outPath}`;
    }
  } catch {
    /* unknown format: nothing found */
  }
  return found;
}

export function storeDirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}
