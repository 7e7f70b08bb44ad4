/**
 * Start-up as an operator meets it: with no settings the service runs HTTP-only on the embedded store
 * and the local operator key it created signs commands; a bad setting stops start-up naming it.
 */
import 'reflect-metadata';
import { parseSecretKey, signBody, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../apps/buildgraph/src/config/config';
import { startService } from '../../apps/buildgraph/src/service';
import { localKeyPaths } from '../../apps/buildgraph/src/trust/trust';
import { freePort } from '../support/nats';

describe('service start-up', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'bg-startup-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('with no NATS and no keys configured: serves HTTP, ready, and accepts commands signed by the local operator key', async () => {
    const service = await startService(loadConfig({ BUILDGRAPH_DATA_DIR: dir, BUILDGRAPH_HTTP_PORT: '0', BUILDGRAPH_LOG_LEVEL: 'silent' }), { logger: false });
    try {
      const health = await fetch(`${service.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ready: true, checks: { nats: { ok: true } } });
      const secret = parseSecretKey(readFileSync(localKeyPaths(dir).secret, 'utf8'));
      // the operator may do everything; a derivation that does not exist is NOT_FOUND, proving the signature was accepted
      const body = JSON.stringify({ drvPath: '/nix/store/00000000000000000000000000000000-never-built.drv', reason: 'test' });
      const res = await fetch(`${service.url}/v1/drv.poison`, { method: 'POST', headers: { [SIGNATURE_HEADER]: signBody(secret, body) }, body });
      expect(await res.json()).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toMatch(/buildgraph_commands_total\{command="drv.poison",outcome="NOT_FOUND",transport="http"\} 1/);
    } finally {
      await service.close();
    }
  });

  it.each([
    ['BUILDGRAPH_STORE', () => ({ BUILDGRAPH_STORE: 'sqlite:/etc/passwd/buildgraph.sqlite' })],
    ['BUILDGRAPH_TRUSTED_KEYS', () => (writeFileSync(join(dir, 'keys'), 'operator nope\n'), { BUILDGRAPH_TRUSTED_KEYS: join(dir, 'keys') })],
    ['BUILDGRAPH_NATS_URL', async () => ({ BUILDGRAPH_NATS_URL: `nats://127.0.0.1:${await freePort()}` })],
  ] as [string, () => Record<string, string> | Promise<Record<string, string>>][])('a bad %s stops start-up with a message naming it', async (name, env) => {
    const config = loadConfig({ BUILDGRAPH_DATA_DIR: dir, BUILDGRAPH_HTTP_PORT: '0', ...(await env()) });
    await expect(startService(config, { logger: false })).rejects.toThrow(name);
  });
});
