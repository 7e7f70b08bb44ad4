import { execFileSync } from 'node:child_process';
import { describeWith } from '../../../test/support/env';
import { formatPublicKey, formatSecretKey, generateSecretKey, parsePublicKey, parseSecretKey, signBody, parseSignatureHeader, verifyBody, toPublicKey } from './signing';
import { authorize, parseTrustedKeys, TrustStore } from './trust';

const nix = (args: string[], input?: string): string =>
  execFileSync('nix', ['--extra-experimental-features', 'nix-command', ...args], { input, encoding: 'utf8' }).trim();

describeWith(['nix'], 'keys in the format Nix writes', () => {
  it('reads a secret key made by `nix key generate-secret` and derives the public key Nix derives', () => {
    const secretText = nix(['key', 'generate-secret', '--key-name', 'farm1-1']);
    const publicText = nix(['key', 'convert-secret-to-public'], secretText);
    const secret = parseSecretKey(secretText);
    expect(formatSecretKey(secret)).toBe(secretText);
    expect(formatPublicKey(secret)).toBe(publicText);
  });

  it('writes secret keys that Nix itself accepts', () => {
    const ours = generateSecretKey('ours-1');
    expect(nix(['key', 'convert-secret-to-public'], formatSecretKey(ours))).toBe(formatPublicKey(ours));
  });
});

describe('signed command bodies', () => {
  const secret = generateSecretKey('farm1-1');
  const body = JSON.stringify({ attemptId: 'a-1', farm: 'farm1' });

  it('a signature over the exact body verifies with the public key, and fails for any other body', () => {
    const header = signBody(secret, body);
    const sig = parseSignatureHeader(header);
    expect(sig?.keyName).toBe('farm1-1');
    expect(verifyBody(toPublicKey(secret), body, sig!.signature)).toBe(true);
    expect(verifyBody(toPublicKey(secret), body + ' ', sig!.signature)).toBe(false);
  });

  it('refuses keys of the wrong size or with a public half that does not match the seed', () => {
    expect(() => parsePublicKey('k:' + Buffer.alloc(31).toString('base64'))).toThrow(/32 bytes/);
    const forged = Buffer.concat([secret.seed, generateSecretKey('x').publicKey]).toString('base64');
    expect(() => parseSecretKey(`k:${forged}`)).toThrow(/does not match/);
    expect(() => parsePublicKey('no-colon')).toThrow(/name/);
  });
});

describe('trust: who may send what', () => {
  const farmKey = generateSecretKey('farm1-1');
  const opKey = generateSecretKey('op');
  const trust = new TrustStore(parseTrustedKeys(`# keys\nfarm:farm1 ${formatPublicKey(farmKey)}\noperator ${formatPublicKey(opKey)}  # the admin\n`));
  const body = '{"farm":"farm1"}';

  it('a trusted key with a good signature is authenticated with its role', () => {
    const r = trust.authenticate(body, signBody(farmKey, body));
    expect(r).toMatchObject({ ok: true, signer: { keyName: 'farm1-1', role: { kind: 'farm', farm: 'farm1' } } });
  });

  it('missing, malformed, unknown and forged signatures are UNAUTHENTICATED', () => {
    const stranger = generateSecretKey('farm1-1');
    for (const header of [undefined, 'garbage', signBody(generateSecretKey('nobody'), body), signBody(stranger, body)]) {
      expect(trust.authenticate(body, header)).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    }
  });

  it('a farm reports only for itself, and only operators poison or clear', () => {
    const farm1 = { kind: 'farm', farm: 'farm1' } as const;
    expect(authorize(farm1, 'attempt.succeed', { farm: 'farm1' })).toBeUndefined();
    expect(authorize(farm1, 'attempt.succeed', { farm: 'farm2' })?.code).toBe('PERMISSION_DENIED');
    expect(authorize(farm1, 'drv.poison', {})?.code).toBe('PERMISSION_DENIED');
    expect(authorize({ kind: 'evaluator' }, 'drv.register', {})).toBeUndefined();
    expect(authorize({ kind: 'evaluator' }, 'drv.clear-failure', {})?.code).toBe('PERMISSION_DENIED');
    expect(authorize({ kind: 'operator' }, 'drv.poison', {})).toBeUndefined();
  });

  it('a bad trusted-keys file names the line', () => {
    expect(() => parseTrustedKeys(`operator ${formatPublicKey(opKey)}\nadmin ${formatPublicKey(farmKey)}`)).toThrow(/line 2/);
  });
});
