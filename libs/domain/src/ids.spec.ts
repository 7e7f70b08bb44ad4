import fc from 'fast-check';
import { eventId } from './ids';

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
});
