/**
 * The deployment files: docker-compose.yml (Docker's compose CLI is not installed here, so the file
 * is parsed and checked against the Compose spec's rules that matter to us) and infra/nats.conf
 * (loaded by a real nats-server, and its permissions exercised with real clients).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { COMMANDS, commandSubject } from '@buildgraph/contracts';
import { describeWith } from '../support/env';

const root = join(__dirname, '..', '..');
// js-yaml comes with @nestjs/swagger (a runtime dependency) and has no bundled types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { load } = require('js-yaml') as { load: (text: string) => unknown };

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  profiles?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number; start_period?: string };
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const compose = load(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as Compose;
const services = compose.services;

describe('docker-compose.yml', () => {
  it('has only top-level keys the Compose spec knows', () => {
    const known = ['version', 'name', 'include', 'services', 'networks', 'volumes', 'configs', 'secrets'];
    expect(Object.keys(compose).filter((k) => !known.includes(k) && !k.startsWith('x-'))).toEqual([]);
  });

  it('runs EventStoreDB, NATS and buildgraph by default, and a 3-node cluster under the "cluster" profile', () => {
    const byDefault = Object.keys(services).filter((s) => !services[s].profiles);
    const cluster = Object.keys(services).filter((s) => services[s].profiles?.includes('cluster'));
    expect(byDefault.sort()).toEqual(['buildgraph', 'eventstore', 'nats']);
    expect(cluster.sort()).toEqual(['buildgraph-cluster', 'eventstore-1', 'eventstore-2', 'eventstore-3']);
    for (const node of ['eventstore-1', 'eventstore-2', 'eventstore-3']) {
      const env = services[node].environment!;
      expect(env.EVENTSTORE_CLUSTER_SIZE).toBe('3');
      const seeds = env.EVENTSTORE_GOSSIP_SEED.split(',').map((s) => s.split(':')[0]);
      expect(seeds.sort()).toEqual(['eventstore-1', 'eventstore-2', 'eventstore-3'].filter((n) => n !== node));
    }
    expect(services.eventstore.environment).toMatchObject({ EVENTSTORE_INSECURE: 'true', EVENTSTORE_CLUSTER_SIZE: '1' });
  });

  it('points the service at the store and the bus by their service names', () => {
    expect(services.buildgraph.environment!.BUILDGRAPH_STORE).toBe('esdb://eventstore:2113?tls=false');
    expect(new URL(services.buildgraph.environment!.BUILDGRAPH_NATS_URL.replace(/\$\{[^}]+\}/g, 'x')).host).toBe('nats:4222');
    expect(services['buildgraph-cluster'].environment!.BUILDGRAPH_STORE).toBe('esdb://eventstore-1:2113,eventstore-2:2113,eventstore-3:2113?tls=false');
  });

  it('health-checks every service on its documented endpoint', () => {
    const probe = (s: string) => services[s].healthcheck!.test.join(' ');
    expect(probe('eventstore')).toContain('http://localhost:2113/health/live');
    expect(probe('nats')).toContain('http://localhost:8222/healthz');
    expect(probe('buildgraph')).toContain('http://127.0.0.1:8080/health');
    for (const [name, s] of Object.entries(services)) {
      expect([name, s.healthcheck?.test[0]]).toEqual([name, expect.stringMatching(/^(CMD|CMD-SHELL)$/)]);
    }
  });

  it('starts the service only after healthy dependencies that exist, and declares every named volume', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect([name, dep, dep in services, condition]).toEqual([name, dep, true, 'service_healthy']);
      }
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('.') || source.startsWith('/')) expect([name, existsSync(join(root, source))]).toEqual([name, true]);
        else expect([name, source in compose.volumes]).toEqual([name, true]);
      }
    }
  });

  it('builds the service from infra/Dockerfile, which runs the compiled main', () => {
    for (const name of ['buildgraph', 'buildgraph-cluster']) expect(services[name].build).toEqual({ context: '.', dockerfile: 'infra/Dockerfile' });
    const dockerfile = readFileSync(join(root, 'infra/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20[^\n]* AS build$/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toContain('CMD ["node", "dist/apps/buildgraph/src/main.js"]');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node dist/apps/buildgraph/src/main.js');
  });

  it('gives NATS every password its config refers to', () => {
    const referenced = [...readFileSync(join(root, 'infra/nats.conf'), 'utf8').matchAll(/^[^#\n]*?[a-z_]+:\s*\$([A-Z][A-Z0-9_]*)/gm)].map((m) => m[1]);
    const given = Object.keys(services.nats.environment!);
    expect(referenced).toEqual(expect.arrayContaining(['BUILDGRAPH_NATS_PASSWORD', 'FARM_A_NATS_PASSWORD', 'OPERATOR_NATS_PASSWORD']));
    expect(referenced.filter((v) => !given.includes(v))).toEqual([]);
  });
});

describe('infra/nats.conf and the wire contract', () => {
  it('lets each farm publish exactly the non-operator commands of libs/contracts, and queries', () => {
    const conf = readFileSync(join(root, 'infra/nats.conf'), 'utf8');
    const operatorOnly = ['drv.poison', 'drv.clear-failure'];
    const farmCommands = COMMANDS.filter((c) => !operatorOnly.includes(c)).map(commandSubject);
    for (const farm of ['farm-a', 'farm-b']) {
      const block = conf.slice(conf.indexOf(`user: ${farm}`), conf.indexOf('subscribe:', conf.indexOf(`user: ${farm}`)));
      const allowed = [...block.matchAll(/"(buildgraph\.v1\.[^"]+)"/g)].map((m) => m[1]);
      expect(allowed.sort()).toEqual([...farmCommands, 'buildgraph.v1.query.>'].sort());
    }
  });
});

const passwords = {
  NATS_SERVER_NAME: 'test',
  BUILDGRAPH_NATS_PASSWORD: 'svc-pw',
  FARM_A_NATS_PASSWORD: 'farm-a-pw',
  FARM_B_NATS_PASSWORD: 'farm-b-pw',
  OPERATOR_NATS_PASSWORD: 'op-pw',
  SUBSCRIBER_NATS_PASSWORD: 'sub-pw',
  NATS_SYS_PASSWORD: 'sys-pw',
};

/**
 * Starts nats-server with infra/nats.conf on random ports (only the JetStream directory is moved
 * to a temp dir: the server refuses -sd next to a configured store_dir); resolves with the client port.
 */
function startNats(dir: string): Promise<{ server: ChildProcess; port: number }> {
  const conf = readFileSync(join(root, 'infra/nats.conf'), 'utf8').replace('store_dir: /data/jetstream', `store_dir: ${JSON.stringify(join(dir, 'js'))}`);
  writeFileSync(join(dir, 'nats.conf'), conf);
  const server = spawn('nats-server', ['-c', join(dir, 'nats.conf'), '-p', '-1', '-m', '-1'], {
    env: { ...process.env, ...passwords },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    server.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (m) resolve({ server, port: Number(m[1]) });
    });
    server.on('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)));
  });
}

describeWith(['nats-server'], 'infra/nats.conf with a real nats-server', () => {
  let server: ChildProcess;
  let port: number;
  let storeDir: string;
  let service: NatsConnection;
  const as = (user: string, pass: string) => connect({ port, user, pass, reconnect: false });

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'bg-nats-'));
    ({ server, port } = await startNats(storeDir));
    service = await as('buildgraph', passwords.BUILDGRAPH_NATS_PASSWORD);
    // The service answers every command, as its queue group would.
    service.subscribe('buildgraph.v1.>', { queue: 'buildgraph', callback: (_err, msg) => msg.respond(new TextEncoder().encode(`ok ${msg.subject}`)) });
    await service.flush();
  });
  afterAll(async () => {
    await service?.close();
    server?.kill('SIGTERM');
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('a farm can send farm commands and receive the reply', async () => {
    const farm = await as('farm-a', passwords.FARM_A_NATS_PASSWORD);
    const reply = await farm.request('buildgraph.v1.attempt.start', new Uint8Array(), { timeout: 5000 });
    expect(new TextDecoder().decode(reply.data)).toBe('ok buildgraph.v1.attempt.start');
    await farm.close();
  });

  it('a farm cannot poison: the server refuses the publish', async () => {
    const farm = await as('farm-b', passwords.FARM_B_NATS_PASSWORD);
    const err = await farm.request('buildgraph.v1.drv.poison', new Uint8Array(), { timeout: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PERMISSIONS_VIOLATION', permissionContext: { operation: 'publish', subject: 'buildgraph.v1.drv.poison' } });
    await farm.close();
  });

  it('an operator can poison', async () => {
    const operator = await as('operator', passwords.OPERATOR_NATS_PASSWORD);
    const reply = await operator.request('buildgraph.v1.drv.poison', new Uint8Array(), { timeout: 5000 });
    expect(new TextDecoder().decode(reply.data)).toBe('ok buildgraph.v1.drv.poison');
    await operator.close();
  });

  it('a subscriber may read notifications but not listen to commands', async () => {
    const subscriber = await as('subscriber', passwords.SUBSCRIBER_NATS_PASSWORD);
    const refused = new Promise((resolve) => subscriber.subscribe('buildgraph.v1.attempt.>', { callback: (err) => resolve(err) }));
    expect(await refused).toMatchObject({ code: 'PERMISSIONS_VIOLATION', permissionContext: { operation: 'subscription', subject: 'buildgraph.v1.attempt.>' } });
    subscriber.subscribe('buildgraph.v1.events.>');
    await expect(subscriber.flush()).resolves.toBeUndefined();
    await subscriber.close().catch(() => undefined);
  });

  it('the service keeps notifications in JetStream and an offline subscriber reads them later', async () => {
    const jsm = await service.jetstreamManager();
    await jsm.streams.add({ name: 'BUILDGRAPH_EVENTS', subjects: ['buildgraph.v1.events.>'] });
    const js = service.jetstream();
    const body = new TextEncoder().encode('{"type":"ResultPoisoned"}');
    await js.publish('buildgraph.v1.events.ResultPoisoned.abc', body, { msgID: 'event-1' });
    const again = await js.publish('buildgraph.v1.events.ResultPoisoned.abc', body, { msgID: 'event-1' });
    expect(again.duplicate).toBe(true);

    const subscriber = await as('subscriber', passwords.SUBSCRIBER_NATS_PASSWORD);
    const consumer = await subscriber.jetstream().consumers.get('BUILDGRAPH_EVENTS');
    const message = await consumer.next({ expires: 5000 });
    expect(message?.subject).toBe('buildgraph.v1.events.ResultPoisoned.abc');
    expect((await jsm.streams.info('BUILDGRAPH_EVENTS')).state.messages).toBe(1);
    await subscriber.close();
  });

  it('a wrong password is refused', async () => {
    await expect(as('farm-a', 'guess')).rejects.toThrow(/authorization/i);
  });
});
