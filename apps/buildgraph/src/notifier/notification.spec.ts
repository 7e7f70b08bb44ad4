import type { RecordedEvent } from '@buildgraph/eventstore';
import { notification } from './notifier.worker';

const recorded = (data: Record<string, unknown>, signer: Record<string, unknown>): RecordedEvent => ({
  id: '6f1c0a5e-0000-5000-8000-000000000001',
  type: 'DerivationRegistered',
  stream: 'drv-0123456789abcdfghijklmnpqrsvwxyz',
  revision: 0n,
  position: 42n,
  data,
  metadata: { schemaVersion: 1, correlationId: 'c', causationId: 'c', recordedAt: '2026-01-01T00:00:00Z', signer },
});

describe('notification: the published form of an event', () => {
  it('carries who signed but not the signed body, with positions as decimal strings', () => {
    const r = recorded({ drvPath: '/nix/store/x.drv', aterm: 'Derive(...)' }, { keyName: 'eval-1', signature: 'c2ln', body: '{"aterm":"Derive(...)"}' });
    const n = JSON.parse(notification(r).toString()) as Record<string, unknown>;
    expect(n).toEqual({
      id: r.id,
      type: r.type,
      stream: r.stream,
      revision: '0',
      position: '42',
      data: r.data,
      metadata: { schemaVersion: 1, correlationId: 'c', causationId: 'c', recordedAt: '2026-01-01T00:00:00Z', signer: { keyName: 'eval-1', signature: 'c2ln' } },
    });
    // the stored event itself is untouched
    expect((r.metadata.signer as { body?: string }).body).toBe('{"aterm":"Derive(...)"}');
  });

  it('announces an event too big for the server without its data, marked truncated', () => {
    const r = recorded({ drvPath: '/nix/store/x.drv', aterm: `Derive(${'"x",'.repeat(5000)})` }, { keyName: 'eval-1', signature: 'c2ln' });
    const whole = notification(r);
    const n = JSON.parse(notification(r, 4096).toString()) as Record<string, unknown>;
    expect(whole.byteLength).toBeGreaterThan(4096);
    expect(n).toMatchObject({ id: r.id, type: r.type, position: '42', truncated: true });
    expect(n).not.toHaveProperty('data');
    expect(notification(r, whole.byteLength + 1024).equals(whole)).toBe(true);
  });
});
