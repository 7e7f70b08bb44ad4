import { readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ID_RULES, KeyFormatError, parseSecretKey, SecretKey } from '@buildgraph/contracts';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/**
 * How a farm machine talks to buildgraph. Every setting is a flag or an environment variable, so the
 * same values work from nix.conf's post-build-hook (which has no flags) and from the command line.
 */
export interface FarmSettings {
  /** `nats://host:port[,nats://...]` or `http(s)://host:port` of the service */
  serviceUrl: string;
  /** the farm this machine reports for (must match the key's `farm:<name>` role on the service) */
  farm: string;
  /** this machine's name in attempts */
  machine: string;
  key: SecretKey;
  /** an evaluator key, to register the closure before building (farm keys may not send drv.register) */
  registerKey?: SecretKey;
  /** where the outbox lives */
  stateDir: string;
  /** how long one request may take before it counts as unreachable */
  timeoutMs: number;
}

export interface FarmOptions {
  service?: string;
  farm?: string;
  machine?: string;
  keyFile?: string;
  registerKeyFile?: string;
  stateDir?: string;
  timeoutMs?: string | number;
}

export const FARM_ENV = {
  service: 'BUILDGRAPH_SERVICE',
  farm: 'BUILDGRAPH_FARM',
  machine: 'BUILDGRAPH_MACHINE',
  keyFile: 'BUILDGRAPH_KEY_FILE',
  registerKeyFile: 'BUILDGRAPH_REGISTER_KEY_FILE',
  stateDir: 'BUILDGRAPH_STATE_DIR',
  timeoutMs: 'BUILDGRAPH_TIMEOUT_MS',
} as const;

function pick(opt: string | undefined, env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = opt ?? env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The default state dir follows XDG: $XDG_CACHE_HOME/buildgraph, else ~/.cache/buildgraph. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'buildgraph');
}

/** Reads and checks the settings; a bad or missing one is an error naming the flag and variable. */
export function loadFarmSettings(opts: FarmOptions, env: NodeJS.ProcessEnv = process.env): FarmSettings {
  const need = (key: keyof typeof FARM_ENV, flag: string): string => {
    const v = pick(opts[key] === undefined ? undefined : String(opts[key]), env, FARM_ENV[key]);
    if (v === undefined) throw new CliError(`missing setting: pass ${flag} or set ${FARM_ENV[key]}`, EXIT_BAD_INPUT);
    return v;
  };
  const serviceUrl = need('service', '--service');
  if (!/^(nats|tls):\/\/[^,\s]+(,(nats|tls):\/\/[^,\s]+)*$|^https?:\/\/\S+$/.test(serviceUrl)) {
    throw new CliError(`invalid ${FARM_ENV.service} ${JSON.stringify(serviceUrl)}: expected nats://HOST:PORT or http://HOST:PORT`, EXIT_BAD_INPUT);
  }
  const farm = need('farm', '--farm');
  if (!ID_RULES.farm.pattern.test(farm)) throw new CliError(`invalid ${FARM_ENV.farm} ${JSON.stringify(farm)}: ${ID_RULES.farm.message}`, EXIT_BAD_INPUT);
  // the host name as it is (dots included); anything else a machine id does not allow becomes '_'
  const machine = pick(opts.machine, env, FARM_ENV.machine) ?? hostname().replace(/[^A-Za-z0-9_.\-:@]/g, '_').slice(0, 128);
  if (!ID_RULES.machine.pattern.test(machine)) throw new CliError(`invalid ${FARM_ENV.machine} ${JSON.stringify(machine)}: ${ID_RULES.machine.message}`, EXIT_BAD_INPUT);
  const key = readKey(need('keyFile', '--key-file'), 'the farm key');
  const registerKeyFile = pick(opts.registerKeyFile, env, FARM_ENV.registerKeyFile);
  const registerKey = registerKeyFile === undefined ? undefined : readKey(registerKeyFile, 'the register key');
  const stateDir = resolve(pick(opts.stateDir, env, FARM_ENV.stateDir) ?? defaultStateDir(env));
  const rawTimeout = pick(opts.timeoutMs === undefined ? undefined : String(opts.timeoutMs), env, FARM_ENV.timeoutMs) ?? '5000';
  const timeoutMs = Number(rawTimeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) {
    throw new CliError(`invalid ${FARM_ENV.timeoutMs} ${JSON.stringify(rawTimeout)}: an integer >= 100 (milliseconds)`, EXIT_BAD_INPUT);
  }
  return { serviceUrl, farm, machine, key, ...(registerKey ? { registerKey } : {}), stateDir, timeoutMs };
}

function readKey(file: string, what: string): SecretKey {
  try {
    return parseSecretKey(readFileSync(file, 'utf8'));
  } catch (e) {
    if (e instanceof KeyFormatError) throw new CliError(`${file}: ${e.message}`, EXIT_BAD_INPUT);
    throw new CliError(`${file}: cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, EXIT_BAD_INPUT);
  }
}
