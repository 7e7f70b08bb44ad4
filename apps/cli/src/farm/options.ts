import { Command } from 'commander';
import { FARM_ENV, FarmOptions } from './settings';

/** The connection flags every farm command takes; each falls back to its environment variable. */
export function withFarmOptions(cmd: Command): Command {
  return cmd
    .option('--service <url>', `the service: nats://HOST:PORT or http://HOST:PORT (env ${FARM_ENV.service})`)
    .option('--farm <name>', `the farm this machine reports for (env ${FARM_ENV.farm})`)
    .option('--machine <name>', `this machine's name (env ${FARM_ENV.machine}; default: the host name)`)
    .option('--key-file <file>', `the farm's secret key, as \`nix key generate-secret\` writes it (env ${FARM_ENV.keyFile})`)
    .option('--register-key-file <file>', `an evaluator key: register the whole closure before building (env ${FARM_ENV.registerKeyFile})`)
    .option('--state-dir <dir>', `where queued reports are kept (env ${FARM_ENV.stateDir}; default ~/.cache/buildgraph)`)
    .option('--timeout-ms <ms>', `how long one request may take (env ${FARM_ENV.timeoutMs}; default 5000)`);
}

export function farmOptionsOf(opts: Record<string, unknown>): FarmOptions {
  const s = (k: string): string | undefined => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  return { service: s('service'), farm: s('farm'), machine: s('machine'), keyFile: s('keyFile'), registerKeyFile: s('registerKeyFile'), stateDir: s('stateDir'), timeoutMs: s('timeoutMs') };
}

/** The environment variable the wrapper sets for nix-store, so a configured post-build-hook leaves the reporting to the wrapper. */
export const WRAPPED_ENV = 'BUILDGRAPH_WRAPPED';
