import { createPrivateKey, createPublicKey, KeyObject, randomBytes, sign, verify } from 'node:crypto';

/**
 * ed25519 keys in Nix's text format (`nix key generate-secret` / `convert-secret-to-public`):
 *   secret: `<name>:<base64 of 64 bytes: 32-byte seed followed by the 32-byte public key>`
 *   public: `<name>:<base64 of the 32-byte public key>`
 * A command signature is `<name>:<base64 of the 64-byte ed25519 signature over the exact body bytes>`,
 * carried in the Buildgraph-Signature header. Pure functions over node:crypto, no I/O.
 */

export interface PublicKey {
  name: string;
  /** 32 raw bytes */
  key: Buffer;
}

export interface SecretKey {
  name: string;
  /** 32-byte seed */
  seed: Buffer;
  /** 32-byte public key, as stored after the seed */
  publicKey: Buffer;
}

export class KeyFormatError extends Error {
  readonly code = 'INVALID_KEY';
  constructor(message: string) {
    super(message);
    this.name = 'KeyFormatError';
  }
}

/** Key names are what Nix accepts before the colon; we also forbid whitespace so key files stay line-based. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._+@-]{0,127}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

// DER prefixes of an ed25519 PKCS#8 private key and SPKI public key; the raw bytes follow.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function splitNamed(text: string, what: string): { name: string; bytes: Buffer } {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  if (colon <= 0) throw new KeyFormatError(`${what} must look like <name>:<base64>`);
  const name = trimmed.slice(0, colon);
  const b64 = trimmed.slice(colon + 1);
  if (!KEY_NAME.test(name)) throw new KeyFormatError(`${what} name ${JSON.stringify(name.slice(0, 64))} must be 1-128 of [A-Za-z0-9._+@-]`);
  if (!BASE64.test(b64)) throw new KeyFormatError(`${what} ${name}: the part after ':' is not base64`);
  return { name, bytes: Buffer.from(b64, 'base64') };
}

export function parsePublicKey(text: string): PublicKey {
  const { name, bytes } = splitNamed(text, 'public key');
  if (bytes.length !== 32) throw new KeyFormatError(`public key ${name}: expected 32 bytes, got ${bytes.length}`);
  return { name, key: bytes };
}

export function parseSecretKey(text: string): SecretKey {
  const { name, bytes } = splitNamed(text, 'secret key');
  if (bytes.length !== 64) throw new KeyFormatError(`secret key ${name}: expected 64 bytes (seed + public key), got ${bytes.length}`);
  const seed = bytes.subarray(0, 32);
  const publicKey = bytes.subarray(32);
  if (!derivePublic(seed).equals(publicKey)) throw new KeyFormatError(`secret key ${name}: its public half does not match its seed`);
  return { name, seed: Buffer.from(seed), publicKey: Buffer.from(publicKey) };
}

function privateKeyObject(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(key: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: 'der', type: 'spki' });
}

function derivePublic(seed: Buffer): Buffer {
  const spki = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return Buffer.from(spki.subarray(SPKI_PREFIX.length));
}

/** A fresh key pair, as `nix key generate-secret --key-name NAME` would make it. */
export function generateSecretKey(name: string, seed: Buffer = randomBytes(32)): SecretKey {
  if (!KEY_NAME.test(name)) throw new KeyFormatError(`key name ${JSON.stringify(name.slice(0, 64))} must be 1-128 of [A-Za-z0-9._+@-]`);
  if (seed.length !== 32) throw new KeyFormatError('an ed25519 seed is 32 bytes');
  return { name, seed: Buffer.from(seed), publicKey: derivePublic(seed) };
}

export function formatSecretKey(k: SecretKey): string {
  return `${k.name}:${Buffer.concat([k.seed, k.publicKey]).toString('base64')}`;
}

export function formatPublicKey(k: PublicKey | SecretKey): string {
  return `${k.name}:${('key' in k ? k.key : k.publicKey).toString('base64')}`;
}

export function toPublicKey(k: SecretKey): PublicKey {
  return { name: k.name, key: k.publicKey };
}

function asBytes(body: string | Uint8Array): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** A reusable signer: the header value for a body. Holding the KeyObject avoids re-importing per command. */
export function signer(secret: SecretKey): (body: string | Uint8Array) => string {
  const key = privateKeyObject(secret.seed);
  return (body) => `${secret.name}:${sign(null, asBytes(body), key).toString('base64')}`;
}

export function signBody(secret: SecretKey, body: string | Uint8Array): string {
  return signer(secret)(body);
}

export interface ParsedSignature {
  keyName: string;
  signature: Buffer;
}

/** `<name>:<base64>` -> parts; undefined when the header is not of that form. */
export function parseSignatureHeader(header: string): ParsedSignature | undefined {
  try {
    const { name, bytes } = splitNamed(header, 'signature');
    return bytes.length === 64 ? { keyName: name, signature: bytes } : undefined;
  } catch {
    return undefined;
  }
}

/** A verifier bound to one public key (KeyObject cached). */
export function verifier(pub: PublicKey): (body: string | Uint8Array, signature: Buffer) => boolean {
  const key = publicKeyObject(pub.key);
  return (body, signature) => signature.length === 64 && verify(null, asBytes(body), key, signature);
}

export function verifyBody(pub: PublicKey, body: string | Uint8Array, signature: Buffer): boolean {
  return verifier(pub)(body, signature);
}
