import { randomBytes } from 'node:crypto';
import { nixBase32Encode } from '@buildgraph/nix';
import { LIMITS } from './limits';
import { parseCommand } from './validate';

const storePath = (name: string): string => `/nix/store/${nixBase32Encode(randomBytes(20))}-${name}`;

describe('command validation at the edge', () => {
  const drvPath = storePath('hello-2.12.drv');
  const out = storePath('hello-2.12');
  const good = { attemptId: 'a-1', drvPath, farm: 'farm1', machine: 'm1', outputs: { out } };

  it('accepts a well-formed success report', () => {
    const r = parseCommand('attempt.succeed', JSON.stringify(good));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.outputs).toEqual({ out });
  });

  it('refuses malformed JSON with INVALID_ARGUMENT', () => {
    const r = parseCommand('attempt.succeed', '{"attemptId": ');
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('refuses a body that is not an object', () => {
    expect(parseCommand('drv.poison', '[1,2]')).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(parseCommand('drv.poison', 'null')).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('refuses an oversized body with PAYLOAD_TOO_LARGE before parsing it', () => {
    const body = JSON.stringify({ ...good, padding: 'x'.repeat(LIMITS.requestBytes) });
    expect(parseCommand('attempt.succeed', body)).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('names every wrong field: wrong types, invalid store paths, unknown fields', () => {
    const r = parseCommand('attempt.succeed', JSON.stringify({ ...good, farm: 7, drvPath: '/nix/store/not-a-path.drv', extra: 1 }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('INVALID_ARGUMENT');
      const fields = (r.error.details?.fields as { field: string }[]).map((f) => f.field).sort();
      expect(fields).toEqual(['drvPath', 'extra', 'farm']);
    }
  });

  it('refuses output maps with non-store-path values or too many entries', () => {
    const outputs: Record<string, string> = {};
    for (let i = 0; i <= LIMITS.outputs; i++) outputs[`o${i}`] = out;
    expect(parseCommand('attempt.succeed', JSON.stringify({ ...good, outputs }))).toMatchObject({ ok: false });
    expect(parseCommand('attempt.succeed', JSON.stringify({ ...good, outputs: { out: 'relative/path' } }))).toMatchObject({ ok: false });
  });

  it('validates nested group members', () => {
    const base = { groupId: 'g1', deadline: '2026-11-21T10:00:00Z' };
    expect(parseCommand('group.open', JSON.stringify({ ...base, members: [{ drvPath }] })).ok).toBe(true);
    const bad = parseCommand('group.open', JSON.stringify({ ...base, members: [{ drvPath: 'x' }] }));
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(parseCommand('group.open', JSON.stringify({ ...base, members: [] })).ok).toBe(false);
  });

  it('refuses an unknown failure status', () => {
    const r = parseCommand('attempt.fail', JSON.stringify({ attemptId: 'a', drvPath, farm: 'f', machine: 'm', status: 'Oops', log: '' }));
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });
});
