/**
 * The offline signature audit of `replay --verify`: who signed what, against the trusted keys, with
 * real ed25519 keys in Nix's format.
 */
import { generateSecretKey, signBody, toPublicKey, type TrustedKey } from '@buildgraph/contracts';
import type { RecordedEvent } from '@buildgraph/eventstore';
import { SignatureAuditor } from '@buildgraph/projections';

const farmKey = generateSecretKey('farm-a-1');
const opsKey = generateSecretKey('ops-1');
const trusted: TrustedKey[] = [
  { ...toPublicKey(farmKey), role: { kind: 'farm', farm: 'farm-a' } },
  { ...toPublicKey(opsKey), role: { kind: 'operator' } },
];
let position = 0n;

function event(
  type: string,
  data: Record<string, unknown>,
  signer?: { keyName: string; signature: string },
  signedBody?: string,
  causationId?: string,
): RecordedEvent {
  const metadata: Record<string, unknown> = { schemaVersion: 1, recordedAt: '2024-05-01T00:00:00.000Z' };
  if (signer) metadata.signer = signedBody === undefined ? signer : { ...signer, body: signedBody };
  if (causationId !== undefined) metadata.causationId = causationId;
  position++;
  return {
    id: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
    type,
    data,
    metadata,
    stream: 'group-x',
    revision: 0n,
    position,
  };
}

/** the stored form: the base64 part of `<name>:<base64>` */
function sign(key: typeof farmKey, body: string): { keyName: string; signature: string } {
  return { keyName: key.name, signature: signBody(key, body).split(':')[1] };
}

describe('signature audit', () => {
  it('a farm key reporting for its own farm passes; for another farm, or poisoning, it is a problem', () => {
    const body = '{"farm":"farm-a"}';
    const auditor = new SignatureAuditor(trusted);
    auditor.check([
      event('AttemptStarted', { farm: 'farm-a' }, sign(farmKey, body)),
      event('AttemptStarted', { farm: 'farm-b' }, sign(farmKey, body)),
      event('ResultPoisoned', {}, sign(farmKey, body)),
      event('ResultPoisoned', {}, sign(opsKey, body)),
    ]);
    const r = auditor.result();
    expect(r).toMatchObject({ events: 4, signed: 4, problemCount: 2, notVerifiable: 2 });
    expect(r.problems.map((p) => p.problem)).toEqual([
      'a farm:farm-a key may not sign AttemptStarted for farm farm-b',
      'a farm:farm-a key may not sign ResultPoisoned',
    ]);
  });

  it('an unknown key or a malformed signature is a problem; unsigned policy output is only counted', () => {
    const stranger = generateSecretKey('stranger');
    const auditor = new SignatureAuditor(trusted);
    auditor.check([
      event('AttemptStarted', { farm: 'farm-a' }, sign(stranger, 'x')),
      event('AttemptStarted', {}, { keyName: 'farm-a-1', signature: 'not base64!' }),
      event('ResultInvalidated', {}),
    ]);
    const r = auditor.result();
    expect(r.problems.map((p) => p.problem)).toEqual([
      'signed by stranger, which is not a trusted key',
      'signature of farm-a-1 is not the base64 of 64 bytes',
    ]);
    expect(r.unsigned).toEqual({ ResultInvalidated: 1 });
  });

  it('where the signed command is stored, the signature is verified against it', () => {
    const body = '{"drvPath":"/nix/store/x.drv","farm":"farm-a"}';
    const auditor = new SignatureAuditor(trusted);
    auditor.check([
      event('AttemptStarted', { farm: 'farm-a' }, sign(farmKey, body), body),
      event('AttemptStarted', { farm: 'farm-a' }, sign(farmKey, body), body.replace('x.drv', 'y.drv')),
    ]);
    const r = auditor.result();
    expect(r.verified).toBe(1);
    expect(r.problems.map((p) => p.problem)).toEqual([
      'signature of farm-a-1 does not match the stored command',
    ]);
  });

  it("the other events of a command are verified against the body stored on its first event", () => {
    const body = '{"attemptId":"a1","farm":"farm-a"}';
    const auditor = new SignatureAuditor(trusted);
    auditor.check([
      event('AttemptStarted', { farm: 'farm-a' }, sign(farmKey, body), body, 'cmd-1'),
      event('AttemptSucceeded', { farm: 'farm-a' }, sign(farmKey, body), undefined, 'cmd-1'),
      event('AttemptSucceeded', { farm: 'farm-a' }, sign(farmKey, body), undefined, 'cmd-2'),
    ]);
    expect(auditor.result()).toMatchObject({ verified: 2, notVerifiable: 1, problemCount: 0 });
  });

  it('without trusted keys only the form is checked', () => {
    const auditor = new SignatureAuditor();
    auditor.check([event('AttemptStarted', { farm: 'farm-z' }, sign(farmKey, 'x'))]);
    expect(auditor.result()).toMatchObject({ signed: 1, notVerifiable: 1, problemCount: 0 });
  });
});
