/** What an AttemptFailed keeps of a build log: its hash and size, and a tail for the classifier and humans. */
import { sha256Hex } from '@buildgraph/nix';
import { MAX_LOG_TAIL_BYTES } from '../check';
import { BuildLog } from '../events/types';

/**
 * The last `maxBytes` UTF-8 bytes of the log, cut at a line start when one is near enough (so the tail
 * never begins mid-word), and never inside a character.
 */
export function logTail(log: string, maxBytes = MAX_LOG_TAIL_BYTES): string {
  const bytes = Buffer.from(log, 'utf8');
  if (bytes.length <= maxBytes) return log;
  let start = bytes.length - maxBytes;
  // skip UTF-8 continuation bytes (10xxxxxx) so the tail starts on a character
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++;
  const newline = bytes.indexOf(0x0a, start);
  if (newline >= 0 && newline < start + maxBytes / 2) start = newline + 1;
  return bytes.subarray(start).toString('utf8');
}

export function summariseLog(log: string): BuildLog {
  return { sha256: sha256Hex(log), bytes: Buffer.byteLength(log, 'utf8'), tail: logTail(log) };
}
