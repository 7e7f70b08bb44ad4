import { Logger } from '@nestjs/common';
import { formatPublicKey, formatSecretKey, generateSecretKey, parseSecretKey, parseTrustedKeys, TrustedKey, TrustStore } from '@buildgraph/contracts';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, ServiceConfig } from '../config/config';

export const TRUST_STORE = 'buildgraph.TrustStore';
export const LOCAL_OPERATOR_KEY_NAME = 'local-operator';

/** Where the first start puts the local operator key; the CLI looks here by default. */
export function localKeyPaths(dataDir: string): { secret: string; trusted: string } {
  const dir = join(resolve(dataDir), 'keys');
  return { secret: join(dir, `${LOCAL_OPERATOR_KEY_NAME}.secret`), trusted: join(dir, 'trusted-keys') };
}

/**
 * The trusted keys: from BUILDGRAPH_TRUSTED_KEYS, or (secure by default, yet no manual step for the
 * quick start) a local operator key created in the data directory on first start and trusted.
 */
export function loadTrust(config: ServiceConfig, log = new Logger('Trust')): TrustStore {
  if (config.BUILDGRAPH_TRUSTED_KEYS) {
    const file = config.BUILDGRAPH_TRUSTED_KEYS;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError('BUILDGRAPH_TRUSTED_KEYS', `cannot read BUILDGRAPH_TRUSTED_KEYS=${file}: ${(e as Error).message}`);
    }
    let keys: TrustedKey[];
    try {
      keys = parseTrustedKeys(text);
    } catch (e) {
      throw new ConfigError('BUILDGRAPH_TRUSTED_KEYS', `BUILDGRAPH_TRUSTED_KEYS=${file}: ${(e as Error).message}`);
    }
    if (keys.length === 0) throw new ConfigError('BUILDGRAPH_TRUSTED_KEYS', `BUILDGRAPH_TRUSTED_KEYS=${file} has no keys: no command could ever be accepted`);
    log.log(`trusting ${keys.length} keys from ${file}`);
    return new TrustStore(keys);
  }
  const paths = localKeyPaths(config.BUILDGRAPH_DATA_DIR);
  if (!existsSync(paths.secret)) {
    mkdirSync(join(paths.secret, '..'), { recursive: true, mode: 0o700 });
    const secret = generateSecretKey(LOCAL_OPERATOR_KEY_NAME);
    writeFileSync(paths.secret, formatSecretKey(secret) + '\n', { mode: 0o600 });
    chmodSync(paths.secret, 0o600);
    writeFileSync(paths.trusted, `# created on first start; set BUILDGRAPH_TRUSTED_KEYS to use your own\noperator ${formatPublicKey(secret)}\n`);
    log.warn(`no BUILDGRAPH_TRUSTED_KEYS: created a local operator key ${paths.secret} and trust only it; the CLI on this machine signs with it`);
  }
  let secretText: string;
  try {
    secretText = readFileSync(paths.secret, 'utf8');
  } catch (e) {
    throw new ConfigError('BUILDGRAPH_DATA_DIR', `cannot read the local operator key ${paths.secret}: ${(e as Error).message}`);
  }
  let keys: TrustedKey[];
  try {
    keys = parseTrustedKeys(readFileSync(paths.trusted, 'utf8'));
    const secret = parseSecretKey(secretText);
    if (!keys.some((k) => k.name === secret.name)) throw new Error(`it does not trust ${secret.name}`);
  } catch (e) {
    throw new ConfigError('BUILDGRAPH_DATA_DIR', `bad local key files in ${join(paths.secret, '..')}: ${(e as Error).message}`);
  }
  log.log(`no BUILDGRAPH_TRUSTED_KEYS: trusting the local keys in ${paths.trusted}`);
  return new TrustStore(keys);
}
