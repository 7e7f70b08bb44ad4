import fc from 'fast-check';
import { parse, v5 } from 'uuid';
import { EVENT_ID_NAMESPACE, eventId } from './ids';

describe('deterministic event ids', () => {
  it('are RFC 9562 version-5 UUIDs, equal for equal idempotency keys and distinct for distinct ones', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(eventId(a)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(eventId(a)).toBe(eventId(a));
        if (a !== b) expect(eventId(a)).not.toBe(eventId(b));
      }),
    );
  });

  it('are the uuid package v5 id of the key in our namespace, for any text', () => {
    const ns = parse(EVENT_ID_NAMESPACE);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (key) => {
        expect(eventId(key)).toBe(v5(key, ns));
      }),
    );
    expect(eventId('/nix/store/x-é.drv/ResultPoisoned/1')).toBe(
      v5('/nix/store/x-é.drv/ResultPoisoned/1', ns),
    );
  });

  it('are the same for keys longer than the reused buffer, and for short keys after them', () => {
    const ns = parse(EVENT_ID_NAMESPACE);
    // past the 512-byte scratch buffer, in 1-, 2- and 3-byte UTF-8 characters, then short again
    for (const key of ['a'.repeat(600), 'é'.repeat(400), '€'.repeat(5000), 'short', ''])
      expect(eventId(key)).toBe(v5(key, ns));
  });
});
