import { PlainReplySerializer, SubjectRoutedNatsServer } from './wire-codec';

const decode = (b: Uint8Array): Record<string, unknown> => JSON.parse(Buffer.from(b).toString()) as Record<string, unknown>;

describe('PlainReplySerializer', () => {
  it('sends the handler reply as it is', () => {
    const reply = { ok: true, hashPart: 'abc', events: [] };
    expect(decode(new PlainReplySerializer().serialize({ response: reply }).data)).toEqual(reply);
  });

  it('turns a handler failure into INTERNAL without its details', () => {
    expect(decode(new PlainReplySerializer().serialize({ err: new Error('secret stack') }).data)).toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'the service failed to handle the request' },
    });
  });

  it('answers PAYLOAD_TOO_LARGE when the reply would not fit the server max_payload', () => {
    const reply = { ok: true, events: ['x'.repeat(10_000)] };
    const small = decode(new PlainReplySerializer(() => 4096).serialize({ response: reply }).data);
    expect(small).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE', details: { limit: 4096 - 1024 } } });
    expect(decode(new PlainReplySerializer(() => 64 * 1024).serialize({ response: reply }).data)).toEqual(reply);
  });
});

describe('SubjectRoutedNatsServer', () => {
  it('routes a plain subject to itself and still parses JSON patterns as Nest does', () => {
    const server = new SubjectRoutedNatsServer({});
    expect(server.getRouteFromPattern('buildgraph.v1.attempt.succeed')).toBe('buildgraph.v1.attempt.succeed');
    expect(server.getRouteFromPattern('{"cmd":"x"}')).toBe('{"cmd":"x"}');
  });
});
