/** The signed request body travels with the signer, so an auditor can verify signatures offline. */
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { parseEvent } from './parse';
import { SIGNED_BODY_MAX_CHARS } from './types';

const drvPath = makeTextPath('hello.drv', sha256Hex('hello'), []);
const started = { drvPath, attemptId: 'a1', farm: 'farm1', machine: 'm1', startedAt: '2026-01-01T10:00:00Z' };
const signature = Buffer.alloc(64, 7).toString('base64');
const meta = (body?: string) => ({
  schemaVersion: 1,
  correlationId: 'c1',
  causationId: 'c1',
  recordedAt: '2026-01-01T10:00:00Z',
  signer: body === undefined ? { keyName: 'farm1-1', signature } : { keyName: 'farm1-1', signature, body },
});

describe('a signer may carry the signed body', () => {
  it('keeps the exact body, byte for byte, when the event is read back', () => {
    const body = JSON.stringify({ ...started, note: 'ünïcode \u2603' });
    const r = parseEvent('AttemptStarted', started, meta(body));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.metadata.signer?.body).toBe(body);
  });

  it('is optional: later events of the same command carry only the signature', () => {
    expect(parseEvent('AttemptStarted', started, meta()).ok).toBe(true);
  });

  it('refuses a body larger than any request the service accepts', () => {
    const r = parseEvent('AttemptStarted', started, meta('x'.repeat(SIGNED_BODY_MAX_CHARS + 1)));
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });
});
