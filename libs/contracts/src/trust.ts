import { WireError } from './errors';
import { KeyFormatError, parsePublicKey, parseSignatureHeader, PublicKey, verifier } from './signing';
import { CommandName } from './subjects';
import { ID } from './validators';

/**
 * Who may send which command. A trusted-keys file has one key per line: `<role> <name:base64>`, where
 * role is `operator`, `evaluator` or `farm:<farm>`; `#` starts a comment. Pure: the service reads the
 * file, this module decides.
 */
export type Role = { kind: 'operator' } | { kind: 'evaluator' } | { kind: 'farm'; farm: string };

export interface TrustedKey extends PublicKey {
  role: Role;
}

export function formatRole(role: Role): string {
  return role.kind === 'farm' ? `farm:${role.farm}` : role.kind;
}

export function parseRole(text: string): Role | undefined {
  if (text === 'operator' || text === 'evaluator') return { kind: text };
  if (text.startsWith('farm:') && ID.test(text.slice(5))) return { kind: 'farm', farm: text.slice(5) };
  return undefined;
}

/** Parses a trusted-keys file; throws KeyFormatError naming the line. Duplicate key names are refused. */
export function parseTrustedKeys(text: string): TrustedKey[] {
  const keys: TrustedKey[] = [];
  const names = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const parts = line.split(/\s+/);
    const where = `line ${i + 1}`;
    if (parts.length !== 2) throw new KeyFormatError(`${where}: expected "<role> <name:base64>", e.g. "farm:farm1 farm1-1:AAAA..."`);
    const role = parseRole(parts[0]);
    if (!role) throw new KeyFormatError(`${where}: role ${JSON.stringify(parts[0])} is not operator, evaluator or farm:<farm>`);
    let key: PublicKey;
    try {
      key = parsePublicKey(parts[1]);
    } catch (e) {
      throw new KeyFormatError(`${where}: ${(e as Error).message}`);
    }
    if (names.has(key.name)) throw new KeyFormatError(`${where}: key name ${key.name} appears twice`);
    names.add(key.name);
    keys.push({ ...key, role });
  });
  return keys;
}

export function formatTrustedKey(k: TrustedKey): string {
  return `${formatRole(k.role)} ${k.name}:${k.key.toString('base64')}`;
}

/** The farm a command reports for, if it is a farm's report. */
function reportingFarm(body: object): string | undefined {
  const farm = (body as { farm?: unknown }).farm;
  return typeof farm === 'string' ? farm : undefined;
}

const FARM_COMMANDS: readonly CommandName[] = ['attempt.start', 'attempt.succeed', 'attempt.fail', 'attempt.resolve', 'fod.verified', 'fod.mismatch', 'group.open'];
const EVALUATOR_COMMANDS: readonly CommandName[] = ['drv.register', 'group.open'];

/**
 * Operators may do everything; evaluators register derivations and open groups; a farm key reports
 * attempts and FOD checks for its own farm only (and may open groups it coordinates). Returns the
 * PERMISSION_DENIED error, or undefined when allowed.
 */
export function authorize(role: Role, command: CommandName, body: object): WireError | undefined {
  if (role.kind === 'operator') return undefined;
  const allowed = role.kind === 'farm' ? FARM_COMMANDS : EVALUATOR_COMMANDS;
  if (!allowed.includes(command)) {
    return { code: 'PERMISSION_DENIED', message: `a ${formatRole(role)} key may not send ${command}`, details: { role: formatRole(role), command } };
  }
  if (role.kind === 'farm') {
    const farm = reportingFarm(body);
    if (farm !== undefined && farm !== role.farm) {
      return {
        code: 'PERMISSION_DENIED',
        message: `a key of farm ${role.farm} may not report for farm ${farm}`,
        details: { role: formatRole(role), farm },
      };
    }
  }
  return undefined;
}

export interface Signer {
  keyName: string;
  role: Role;
  /** base64 of the ed25519 signature over the body, kept with the events so an auditor can verify offline */
  signature: string;
}

/** Verifies `Buildgraph-Signature` headers against a fixed set of trusted keys. */
export class TrustStore {
  private readonly byName = new Map<string, { key: TrustedKey; verify: (body: string | Uint8Array, sig: Buffer) => boolean }>();

  constructor(keys: TrustedKey[]) {
    for (const key of keys) this.byName.set(key.name, { key, verify: verifier(key) });
  }

  get size(): number {
    return this.byName.size;
  }

  keys(): TrustedKey[] {
    return [...this.byName.values()].map((v) => v.key);
  }

  /**
   * The trusted key a header names, with the signature to check, or UNAUTHENTICATED naming why
   * (missing, malformed, unknown key). The signature itself is not checked yet: see authenticate.
   */
  identify(header: string | undefined): { ok: true; key: TrustedKey; signature: Buffer } | { ok: false; error: WireError } {
    if (header === undefined || header === '') {
      return { ok: false, error: { code: 'UNAUTHENTICATED', message: 'commands must carry a Buildgraph-Signature header: <keyname>:<base64 ed25519 signature>' } };
    }
    const parsed = parseSignatureHeader(header);
    if (!parsed) {
      return { ok: false, error: { code: 'UNAUTHENTICATED', message: 'Buildgraph-Signature must be <keyname>:<base64 of a 64-byte ed25519 signature>' } };
    }
    const entry = this.byName.get(parsed.keyName);
    if (!entry) {
      return { ok: false, error: { code: 'UNAUTHENTICATED', message: `key ${parsed.keyName} is not trusted`, details: { keyName: parsed.keyName } } };
    }
    return { ok: true, key: entry.key, signature: parsed.signature };
  }

  /** The outcome once the signature of an identified key has been checked (here or on another thread). */
  static outcome(key: TrustedKey, signature: Buffer, valid: boolean): { ok: true; signer: Signer } | { ok: false; error: WireError } {
    if (!valid) {
      return { ok: false, error: { code: 'UNAUTHENTICATED', message: `signature by ${key.name} does not match the request body`, details: { keyName: key.name } } };
    }
    return { ok: true, signer: { keyName: key.name, role: key.role, signature: signature.toString('base64') } };
  }

  /** The signer of a body, or UNAUTHENTICATED naming why (missing, malformed, unknown key, bad signature). */
  authenticate(body: string | Uint8Array, header: string | undefined): { ok: true; signer: Signer } | { ok: false; error: WireError } {
    const id = this.identify(header);
    if (!id.ok) return id;
    const entry = this.byName.get(id.key.name)!;
    return TrustStore.outcome(id.key, id.signature, entry.verify(body, id.signature));
  }
}
