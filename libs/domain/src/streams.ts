/**
 * Stream names: one stream per aggregate, `drv-<hash part of the .drv path>` and `group-<groupId>`.
 * The hash part alone names a drv: Nix never gives two store paths the same 32-character hash part.
 */
import { parseStorePath } from '@buildgraph/nix';
import { GROUP_ID_PATTERN, ID_PATTERN } from './check';
import { DomainException } from './result';

const HASH_PART = /^[0-9a-df-np-sv-z]{32}$/;

/** A groupId: one NATS subject token that fits a stream name (docs/contracts.md "Ids"). */
export function isGroupId(groupId: string): boolean {
  return GROUP_ID_PATTERN.test(groupId);
}

/** Throws DomainException INVALID_ARGUMENT for anything but a .drv store path: callers validate first. */
export function drvStreamName(drvPath: string): string {
  let hashPart: string;
  try {
    if (!drvPath.endsWith('.drv')) throw new Error('not a .drv');
    hashPart = parseStorePath(drvPath).hashPart;
  } catch (e) {
    throw new DomainException({
      code: 'INVALID_ARGUMENT',
      message: `drvPath: not a .drv store path: ${JSON.stringify(drvPath.slice(0, 200))}`,
      details: { field: 'drvPath', cause: (e as Error).message },
    });
  }
  return `drv-${hashPart}`;
}

export function groupStreamName(groupId: string): string {
  if (!isGroupId(groupId)) {
    throw new DomainException({
      code: 'INVALID_ARGUMENT',
      message: 'groupId: must be 1-120 characters of [A-Za-z0-9_-], starting with a letter or digit',
      details: { field: 'groupId' },
    });
  }
  return `group-${groupId}`;
}

export type ParsedStreamName = { kind: 'drv'; hashPart: string } | { kind: 'group'; groupId: string };

/** The reverse of drvStreamName/groupStreamName; null for any other stream. */
export function parseStreamName(stream: string): ParsedStreamName | null {
  if (stream.startsWith('drv-')) {
    const hashPart = stream.slice(4);
    return HASH_PART.test(hashPart) ? { kind: 'drv', hashPart } : null;
  }
  if (stream.startsWith('group-')) {
    const groupId = stream.slice(6);
    // read with the older, looser rule: a stored stream stays readable
    return ID_PATTERN.test(groupId) ? { kind: 'group', groupId } : null;
  }
  return null;
}
