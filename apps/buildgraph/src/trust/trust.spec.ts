import { formatPublicKey, generateSecretKey, parseSecretKey, signBody } from '@buildgraph/contracts';
import { Logger } from '@nestjs/common';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../config/config';
import { loadTrust, localKeyPaths } from './trust';

const quiet = { log: () => undefined, warn: () => undefined } as unknown as Logger;

describe('trusted keys at start-up', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'bg-trust-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('with no keys configured, the first start creates a local operator key, trusts only it, and reuses it later', () => {
    const config = loadConfig({ BUILDGRAPH_DATA_DIR: dir });
    const first = loadTrust(config, quiet);
    const paths = localKeyPaths(dir);
    const secret = parseSecretKey(readFileSync(paths.secret, 'utf8'));
    expect(statSync(paths.secret).mode & 0o777).toBe(0o600);
    expect(first.keys().map((k) => [k.name, k.role.kind])).toEqual([[secret.name, 'operator']]);
    const body = '{"drvPath":"x"}';
    expect(first.authenticate(body, signBody(secret, body)).ok).toBe(true);
    const second = loadTrust(config, quiet);
    expect(second.authenticate(body, signBody(secret, body)).ok).toBe(true);
  });

  it('a configured file is used as is; a missing or bad one names BUILDGRAPH_TRUSTED_KEYS', () => {
    const farm = generateSecretKey('farm1-1');
    const file = join(dir, 'trusted');
    writeFileSync(file, `farm:farm1 ${formatPublicKey(farm)}\n`);
    expect(loadTrust(loadConfig({ BUILDGRAPH_DATA_DIR: dir, BUILDGRAPH_TRUSTED_KEYS: file }), quiet).keys()[0].role).toEqual({ kind: 'farm', farm: 'farm1' });
    writeFileSync(file, 'farm:farm1 not-a-key\n');
    for (const f of [file, join(dir, 'missing')]) {
      expect(() => loadTrust(loadConfig({ BUILDGRAPH_DATA_DIR: dir, BUILDGRAPH_TRUSTED_KEYS: f }), quiet)).toThrow(ConfigError);
      expect(() => loadTrust(loadConfig({ BUILDGRAPH_DATA_DIR: dir, BUILDGRAPH_TRUSTED_KEYS: f }), quiet)).toThrow(/BUILDGRAPH_TRUSTED_KEYS/);
    }
  });
});
