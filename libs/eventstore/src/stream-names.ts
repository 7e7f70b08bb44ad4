import { EventStoreError } from './errors';

/**
 * Stream names. Only three shapes exist, so a typo or an injected name cannot create a stray
 * aggregate, and every name is valid on both SQLite and EventStoreDB (no `$`, which ESDB reserves):
 *   drv-<32 nix-base32 chars>        one per derivation: the hash part of its .drv store path
 *   group-<id>                       one per multi-machine group; id is [A-Za-z0-9][A-Za-z0-9._-]*
 *   system-<name>                    service-wide streams (e.g. system-keys); name is [a-z0-9][a-z0-9.-]*
 * Overall: ASCII letters, digits, '.', '_', '-', at most 128 characters.
 */
export const STREAM_NAME_MAX_LENGTH = 128;

/** Nix's base-32 alphabet (no e, o, u, t). */
export const NIX_BASE32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz';

const DRV = /^drv-[0123456789abcdfghijklmnpqrsvwxyz]{32}$/;
const GROUP = /^group-[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SYSTEM = /^system-[a-z0-9][a-z0-9.-]*$/;
/** What a readAll/subscribe stream prefix may contain. */
const PREFIX = /^[A-Za-z0-9._-]{1,128}$/;

export type StreamCategory = 'drv' | 'group' | 'system';

/** The category of a valid stream name, or undefined if the name is not allowed. */
export function streamCategory(stream: string): StreamCategory | undefined {
  if (typeof stream !== 'string' || stream.length > STREAM_NAME_MAX_LENGTH) return undefined;
  if (DRV.test(stream)) return 'drv';
  if (GROUP.test(stream)) return 'group';
  if (SYSTEM.test(stream)) return 'system';
  return undefined;
}

export function isValidStreamName(stream: string): boolean {
  return streamCategory(stream) !== undefined;
}

/** Throws INVALID_STREAM naming what is wrong with the name. */
export function assertStreamName(stream: unknown): asserts stream is string {
  if (typeof stream !== 'string') {
    throw new EventStoreError('INVALID_STREAM', `stream name must be a string, got ${typeof stream}`, { stream: String(stream) });
  }
  if (streamCategory(stream) !== undefined) return;
  const shown = JSON.stringify(stream.length > 160 ? stream.slice(0, 160) + '...' : stream);
  let why: string;
  if (stream.length > STREAM_NAME_MAX_LENGTH) why = `longer than ${STREAM_NAME_MAX_LENGTH} characters`;
  else if (stream.startsWith('drv-')) why = `a drv stream is "drv-" followed by the 32 nix-base32 characters of the .drv hash part`;
  else if (stream.startsWith('group-')) why = 'a group id is letters, digits, ".", "_" or "-", starting with a letter or digit';
  else if (stream.startsWith('system-')) why = 'a system stream name is lowercase letters, digits, "." or "-"';
  else why = 'it must start with "drv-", "group-" or "system-"';
  throw new EventStoreError('INVALID_STREAM', `invalid stream name ${shown}: ${why}`, { stream: stream.slice(0, 160) });
}

/** Throws INVALID_ARGUMENT unless every prefix uses the stream-name alphabet. */
export function assertStreamPrefixes(prefixes: unknown): asserts prefixes is string[] {
  if (!Array.isArray(prefixes) || !prefixes.every((p) => typeof p === 'string' && PREFIX.test(p))) {
    throw new EventStoreError('INVALID_ARGUMENT', 'filter.streamPrefixes must be non-empty strings of [A-Za-z0-9._-], at most 128 characters', {
      streamPrefixes: String(prefixes),
    });
  }
}

/** `drv-<hashPart>` for a .drv store path's 32-character hash part. */
export function drvStream(hashPart: string): string {
  const stream = `drv-${hashPart}`;
  assertStreamName(stream);
  return stream;
}

/**
 * A groupId, the rule libs/contracts and libs/domain apply too: one NATS subject token (no '.') that
 * fits a stream name with its prefix. Stream names alone stay more tolerant ('.' allowed), so any group
 * stream written before this rule is still readable.
 */
export const GROUP_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/;

export function isGroupId(groupId: unknown): groupId is string {
  return typeof groupId === 'string' && GROUP_ID.test(groupId);
}

/** `group-<groupId>`; throws INVALID_STREAM unless groupId follows the groupId rule. */
export function groupStream(groupId: string): string {
  if (!isGroupId(groupId)) {
    throw new EventStoreError('INVALID_STREAM', 'a groupId is 1-120 characters of [A-Za-z0-9_-], starting with a letter or digit', {
      groupId: String(groupId).slice(0, 160),
    });
  }
  const stream = `group-${groupId}`;
  assertStreamName(stream);
  return stream;
}

export function systemStream(name: string): string {
  const stream = `system-${name}`;
  assertStreamName(stream);
  return stream;
}
