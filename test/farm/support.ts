/**
 * A farm's world for end-to-end tests: a real nats-server, the real service (in-process, restartable on
 * the same data dir), a farm key the service trusts, and derivations built by the real Nix on this
 * machine. Every test's derivations carry a fresh nonce so Nix never reuses an earlier output.
 */
import { formatPublicKey, formatSecretKey, generateSecretKey, SecretKey } from '@buildgraph/contracts';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../apps/buildgraph/src/config/config';
import { RunningService, startService } from '../../apps/buildgraph/src/service';
import { FarmClient } from '../../apps/cli/src/farm/client';
import { nixBuild, NixBuildOptions, NixBuildResult } from '../../apps/cli/src/farm/nix-build';
import { FarmSettings } from '../../apps/cli/src/farm/settings';
import { NatsServer, startNatsServer } from '../support/nats';

export const ROOT = join(__dirname, '..', '..');

/** Nix settings every test build uses: no sandbox (Debian's nix), no binary cache to wait for. */
export const NIX_OPTIONS = ['sandbox=false', 'substituters='];

export interface FarmWorld {
  nats: NatsServer;
  dir: string;
  farmKey: SecretKey;
  operatorKey: SecretKey;
  evaluatorKey: SecretKey;
  keyFile: string;
  settings: FarmSettings;
  service(): RunningService | undefined;
  store(): EventStore;
  startService(): Promise<void>;
  stopService(): Promise<void>;
  client(overrides?: Partial<FarmSettings>): FarmClient;
  /** `buildgraph nix-build` in-process, with the test's Nix options; returns the result and what it printed */
  build(client: FarmClient, opts: Partial<NixBuildOptions> & { targets: string[] }): Promise<NixBuildResult & { info: string[]; stdout: string }>;
  /** events of one drv's stream, by type */
  events(drvPath: string): Promise<{ type: string; data: Record<string, unknown> }[]>;
  /** a .nix file in the test dir */
  writeNix(name: string, text: string): string;
  /** the same as command-line flags */
  flags(): string[];
  /** the env a spawned `buildgraph` needs to reach the service as this farm */
  farmEnv(): Record<string, string>;
  /** an executable that runs `buildgraph post-build-hook` from the sources */
  hookScript(): string;
  close(): Promise<void>;
}

export function nonce(): string {
  return randomBytes(8).toString('hex');
}

export async function startFarmWorld(): Promise<FarmWorld> {
  const nats = await startNatsServer({ jetstream: false });
  const dir = mkdtempSync(join(tmpdir(), 'bg-farm-'));
  const dataDir = join(dir, 'data');
  const farmKey = generateSecretKey('farm1-1');
  const keyFile = join(dir, 'farm1.sec');
  writeFileSync(keyFile, formatSecretKey(farmKey), { mode: 0o600 });
  const trusted = join(dir, 'trusted-keys');
  const operatorKey = generateSecretKey('ops-1');
  const evaluatorKey = generateSecretKey('eval-1');
  writeFileSync(trusted, [`farm:farm1 ${formatPublicKey(farmKey)}`, `operator ${formatPublicKey(operatorKey)}`, `evaluator ${formatPublicKey(evaluatorKey)}`, ''].join('\n'));
  const config = loadConfig({
    BUILDGRAPH_DATA_DIR: dataDir,
    BUILDGRAPH_NATS_URL: nats.url,
    BUILDGRAPH_HTTP_PORT: '0',
    BUILDGRAPH_TRUSTED_KEYS: trusted,
    BUILDGRAPH_LOG_LEVEL: 'silent',
  });
  let service: RunningService | undefined;
  const settings: FarmSettings = { serviceUrl: nats.url, farm: 'farm1', machine: 'builder-1', key: farmKey, stateDir: join(dir, 'state'), timeoutMs: 2000 };
  const clients: FarmClient[] = [];
  const world: FarmWorld = {
    nats,
    dir,
    farmKey,
    operatorKey,
    evaluatorKey,
    keyFile,
    settings,
    service: () => service,
    store: () => {
      if (!service) throw new Error('the service is stopped');
      return service.app.get<EventStore>(EVENT_STORE);
    },
    async startService() {
      service = await startService(config, { logger: false });
    },
    async stopService() {
      await service?.close();
      service = undefined;
    },
    client(overrides = {}) {
      const c = FarmClient.open({ ...settings, ...overrides }, { tries: 2, backoffMs: 50 });
      clients.push(c);
      return c;
    },
    async build(client, opts) {
      const info: string[] = [];
      let stdout = '';
      const nixOpts = NIX_OPTIONS.flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)]);
      const result = await nixBuild(
        client,
        {
          instantiateArgs: [...nixOpts, ...(opts.instantiateArgs ?? [])],
          realiseArgs: [...nixOpts, ...(opts.realiseArgs ?? [])],
          rebuildFailed: false,
          printBuildLogs: false,
          ...opts,
        },
        { info: (l) => info.push(l), stdout: (c) => (stdout += c) },
      );
      return { ...result, info, stdout };
    },
    async events(drvPath) {
      const hashPart = drvPath.slice(drvPath.lastIndexOf('/') + 1, drvPath.lastIndexOf('/') + 33);
      const recorded = await world.store().readStream(`drv-${hashPart}`);
      return recorded.map((r) => ({ type: r.type, data: r.data as Record<string, unknown> }));
    },
    writeNix(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    farmEnv() {
      return {
        BUILDGRAPH_SERVICE: nats.url,
        BUILDGRAPH_FARM: 'farm1',
        BUILDGRAPH_MACHINE: 'builder-1',
        BUILDGRAPH_KEY_FILE: keyFile,
        BUILDGRAPH_STATE_DIR: settings.stateDir,
      };
    },
    flags() {
      return ['--service', nats.url, '--farm', 'farm1', '--machine', 'builder-1', '--key-file', keyFile, '--state-dir', settings.stateDir];
    },
    hookScript() {
      const file = join(dir, 'post-build-hook.sh');
      const env = Object.entries(world.farmEnv())
        .map(([k, v]) => `export ${k}='${v}'`)
        .join('\n');
      writeFileSync(file, `#!/bin/sh\n${env}\ncd '${ROOT}'\nexec '${process.execPath}' -r @swc-node/register '${join(ROOT, 'apps/cli/src/main.ts')}' post-build-hook\n`);
      chmodSync(file, 0o755);
      return file;
    },
    async close() {
      for (const c of clients) await c.close().catch(() => undefined);
      await service?.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await world.startService();
  return world;
}

/**
 * A small graph of derivations whose builders use only shell builtins. `lib` is the shared input;
 * `app` succeeds on top of it; `broken` fails permanently; `full` writes "No space left on device"
 * and fails; `killed` kills itself with SIGKILL.
 */
export function graphNix(n: string): string {
  return `
let
  mk = name: deps: script: derivation {
    inherit name deps;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    nonce = "${n}";
  };
  lib = mk "lib" [] "echo building lib; echo lib > $out";
in {
  inherit lib;
  app = mk "app" [ lib ] "read x < \${lib}; echo building app on $x; echo app-$x > $out";
  broken = mk "broken" [ lib ] "echo compiling; echo 'error: undefined reference to frobnicate' >&2; exit 1";
  full = mk "full" [ lib ] "echo writing; echo 'cp: write error: No space left on device' >&2; exit 1";
  killed = mk "killed" [ lib ] "echo about to die; kill -9 $$";
  top = mk "top" [ (mk "mid" [ (mk "broken-deep" [ lib ] "echo deep; exit 1") ] "echo mid > $out") ] "echo top > $out";
}
`;
}
