import fc from 'fast-check';
import { MAX_LOG_TAIL_BYTES } from '../check';
import { logTail, summariseLog } from './log';

describe('the log kept with a failure', () => {
  it('keeps a short log whole', () => {
    const log = "error: builder for 'x' failed with exit code 2\n";
    expect(summariseLog(log)).toMatchObject({ bytes: Buffer.byteLength(log), tail: log });
  });

  it('keeps the end of a long log, starting at a line, so the error Nix printed last is there', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `compiling unit ${i}`);
    const log = [...lines, 'error: builder failed with exit code 137'].join('\n');
    const tail = logTail(log);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(MAX_LOG_TAIL_BYTES);
    expect(tail.endsWith('exit code 137')).toBe(true);
    expect(tail.startsWith('compiling unit ')).toBe(true);
  });

  it('never exceeds the limit and never splits a character, whatever the text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 3000 }),
        fc.integer({ min: 8, max: 512 }),
        (log, max) => {
          const tail = logTail(log, max);
          if (Buffer.byteLength(log) > max) expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(max);
          // a suffix of the original string: no character was cut into a replacement character
          expect(log.endsWith(tail)).toBe(true);
        },
      ),
    );
  });
});
