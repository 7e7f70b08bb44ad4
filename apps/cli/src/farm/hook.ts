import { basename } from 'node:path';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';
import { FarmClient, FlushResult } from './client';
import { invalidPaths, readStoreDrv, realisations, registrationTimes, StoreDrv } from './nix-store';
import { derivedAttemptId, Report, resolveAttempt, startAttempt, succeedAttempt } from './reports';

/**
 * Nix's post-build-hook: after each successful build Nix runs it with DRV_PATH and OUT_PATHS (space
 * separated) in the environment. We know only the end of the build, so the attempt's id is derived
 * from what identifies this build (see derivedAttemptId) and a second run of the hook for the same
 * build reports the same attempt.
 */
export interface HookInput {
  drvPath: string;
  outPaths: string[];
}

const STORE_PATH = /^\/\S+\/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$/;

export function readHookEnv(env: NodeJS.ProcessEnv): HookInput {
  const drvPath = (env.DRV_PATH ?? '').trim();
  if (!drvPath) throw new CliError('DRV_PATH is not set: run this as nix.conf\'s post-build-hook (Nix sets DRV_PATH and OUT_PATHS)', EXIT_BAD_INPUT);
  if (!STORE_PATH.test(drvPath) || !drvPath.endsWith('.drv')) throw new CliError(`DRV_PATH ${JSON.stringify(drvPath.slice(0, 300))} is not a .drv store path`, EXIT_BAD_INPUT);
  // Nix 2.8.0 sets OUT_PATHS empty (NixOS/nix#6446): then the outputs are read from the store
  const outPaths = (env.OUT_PATHS ?? '').split(/\s+/).filter(Boolean);
  const bad = outPaths.find((p) => !STORE_PATH.test(p));
  if (bad) throw new CliError(`OUT_PATHS holds ${JSON.stringify(bad.slice(0, 300))}, which is not a store path`, EXIT_BAD_INPUT);
  return { drvPath, outPaths };
}

/**
 * Output name of each out path. Static paths are matched exactly; a floating CA output's path is
 * `<hash>-<name>` for `out` and `<hash>-<name>-<output>` for the others, as Nix names them.
 */
export function outputsByName(d: StoreDrv, outPaths: string[], drvName: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const left = new Set(outPaths);
  for (const [name, o] of Object.entries(d.drv.outputs)) {
    if (o.path && left.has(o.path)) {
      outputs[name] = o.path;
      left.delete(o.path);
    }
  }
  for (const p of [...left]) {
    const rest = basename(p).slice(33);
    const name = rest === drvName ? 'out' : rest.startsWith(`${drvName}-`) ? rest.slice(drvName.length + 1) : undefined;
    if (name && d.drv.outputs[name] && outputs[name] === undefined) {
      outputs[name] = p;
      left.delete(p);
    }
  }
  if (left.size > 0) throw new CliError(`OUT_PATHS holds ${[...left].join(', ')}, which are not outputs of ${d.drvPath}`, EXIT_BAD_INPUT);
  return outputs;
}

/** The outputs of a derivation Nix just built, from the .drv (static paths) or its realisations (CA); all must be valid. */
async function outputsFromStore(d: StoreDrv): Promise<Record<string, string>> {
  const outputs: Record<string, string> = {};
  const floating: string[] = [];
  for (const [name, o] of Object.entries(d.drv.outputs)) {
    if (o.path) outputs[name] = o.path;
    else floating.push(name);
  }
  Object.assign(outputs, await realisations(d.drvPath, floating));
  const missing = Object.keys(d.drv.outputs).filter((n) => outputs[n] === undefined);
  const invalid = await invalidPaths(Object.values(outputs));
  if (missing.length > 0 || invalid.size > 0) {
    throw new CliError(`OUT_PATHS is empty and the outputs of ${d.drvPath} are not all valid in the store (${[...missing, ...invalid].join(', ')})`);
  }
  return outputs;
}

async function inputRealisations(d: StoreDrv): Promise<{ all: Record<string, string>; floating: boolean }> {
  const all: Record<string, string> = {};
  let floating = false;
  for (const [inputPath, outs] of Object.entries(d.drv.inputDrvs)) {
    const input = readStoreDrv(inputPath);
    const missing = outs.filter((o) => !input.drv.outputs[o]?.path);
    for (const o of outs) if (input.drv.outputs[o]?.path) all[`${inputPath}^${o}`] = input.drv.outputs[o].path;
    if (missing.length > 0) {
      floating = true;
      for (const [o, p] of Object.entries(await realisations(inputPath, missing))) all[`${inputPath}^${o}`] = p;
    }
  }
  return { all, floating };
}

/** The reports for one hook run, in the order they must reach the service. */
export async function hookReports(client: FarmClient, input: HookInput): Promise<{ attemptId: string; reports: Report[] }> {
  const d = readStoreDrv(input.drvPath);
  const drvName = basename(input.drvPath).slice(33).replace(/\.drv$/, '');
  const outputs = input.outPaths.length > 0 ? outputsByName(d, input.outPaths, drvName) : await outputsFromStore(d);
  const outPaths = Object.values(outputs);
  const times = await registrationTimes(outPaths);
  // Nix registered the outputs just before running the hook: that moment is the build's end
  const registered = Math.max(0, ...times.values());
  const finishedAt = registered > 0 ? new Date(registered * 1000).toISOString() : new Date().toISOString();
  const attemptId = derivedAttemptId(client.settings, input.drvPath, outPaths, registered > 0 ? String(registered) : 'unknown');
  const inputs = await inputRealisations(d);
  // the hook never sees the start: the service records it with the success, in the same append
  const reports: Report[] = [];
  if (inputs.floating) {
    // a CA derivation's unresolved run: say what it resolved against; the service derives the resolved
    // drv from the registered inputs. Resolution needs a started attempt; the end stands for the start.
    reports.push(startAttempt(client.settings, { attemptId, drvPath: input.drvPath, startedAt: finishedAt, aterm: d.aterm }));
    reports.push(resolveAttempt(client.settings, { attemptId, drvPath: input.drvPath, inputRealisations: inputs.all }));
  }
  reports.push(succeedAttempt(client.settings, { attemptId, drvPath: input.drvPath, outputs, inputRealisations: inputs.all, finishedAt, aterm: d.aterm }));
  return { attemptId, reports };
}

export async function runHook(client: FarmClient, input: HookInput): Promise<{ attemptId: string; flush: FlushResult }> {
  const { attemptId, reports } = await hookReports(client, input);
  client.enqueue(...reports);
  return { attemptId, flush: await client.flush() };
}
