/**
 * An in-process buildgraph service wired to a real nats-server, with its own data dir and a trusted-keys
 * file holding an operator, an evaluator and two farm keys. Tests talk to it as clients do: plain JSON
 * over NATS request/reply and HTTP, signed with those keys.
 */
import { formatPublicKey, generateSecretKey, SecretKey, signBody, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import { connect, headers, NatsConnection } from 'nats';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ServiceConfig } from '../../apps/buildgraph/src/config/config';
import { RunningService, startService } from '../../apps/buildgraph/src/service';
import { NatsServer, startNatsServer } from '../support/nats';

export interface Keys {
  operator: SecretKey;
  evaluator: SecretKey;
  farm1: SecretKey;
  farm2: SecretKey;
}

export interface Harness {
  nats: NatsServer;
  client: NatsConnection;
  service: RunningService;
  store: EventStore;
  keys: Keys;
  dataDir: string;
  config: ServiceConfig;
  /** NATS request with a plain JSON body; signed by `key` unless it is null */
  request(subject: string, body: string | object, key: SecretKey | null, opts?: { signature?: string }): Promise<Record<string, unknown>>;
  http(method: string, path: string, body?: string | object, key?: SecretKey | null): Promise<{ status: number; body: Record<string, unknown>; text: string }>;
  head(): Promise<bigint>;
  stop(): Promise<void>;
}

export async function startHarness(opts: { maxPayload?: number } = {}): Promise<Harness> {
  const nats = await startNatsServer({ maxPayload: opts.maxPayload });
  const dataDir = mkdtempSync(join(tmpdir(), 'bg-service-'));
  const keys: Keys = {
    operator: generateSecretKey('ops-1'),
    evaluator: generateSecretKey('eval-1'),
    farm1: generateSecretKey('farm1-1'),
    farm2: generateSecretKey('farm2-1'),
  };
  const trusted = join(dataDir, 'trusted-keys');
  writeFileSync(
    trusted,
    [`operator ${formatPublicKey(keys.operator)}`, `evaluator ${formatPublicKey(keys.evaluator)}`, `farm:farm1 ${formatPublicKey(keys.farm1)}`, `farm:farm2 ${formatPublicKey(keys.farm2)}`].join('\n'),
  );
  const config = loadConfig({
    BUILDGRAPH_DATA_DIR: dataDir,
    BUILDGRAPH_NATS_URL: nats.url,
    BUILDGRAPH_HTTP_PORT: '0',
    BUILDGRAPH_TRUSTED_KEYS: trusted,
    BUILDGRAPH_LOG_LEVEL: 'silent',
  });
  const service = await startService(config, { logger: false });
  const client = await connect({ servers: nats.url });
  const store = service.app.get<EventStore>(EVENT_STORE);
  const encode = (b: string | object): string => (typeof b === 'string' ? b : JSON.stringify(b));
  return {
    nats,
    client,
    service,
    store,
    keys,
    dataDir,
    config,
    async request(subject, body, key, o = {}) {
      const text = encode(body);
      const h = headers();
      if (o.signature !== undefined) h.set(SIGNATURE_HEADER, o.signature);
      else if (key) h.set(SIGNATURE_HEADER, signBody(key, text));
      const reply = await client.request(subject, Buffer.from(text), { timeout: 5000, headers: h });
      return JSON.parse(Buffer.from(reply.data).toString('utf8')) as Record<string, unknown>;
    },
    async http(method, path, body, key) {
      const text = body === undefined ? undefined : encode(body);
      const hdrs: Record<string, string> = { 'content-type': 'application/json' };
      if (text !== undefined && key) hdrs[SIGNATURE_HEADER] = signBody(key, text);
      const res = await fetch(service.url + path, { method, headers: hdrs, body: text });
      const raw = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        /* NDJSON or text bodies */
      }
      return { status: res.status, body: parsed, text: raw };
    },
    head: () => store.headPosition(),
    async stop() {
      await client.close();
      await service.close();
      await nats.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
