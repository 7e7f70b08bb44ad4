import { isStorePath } from '@buildgraph/nix';
import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';

/** A valid Nix store path (hash part in nix-base32, name rules) under the default store dir. */
export function IsStorePath(opts?: ValidationOptions & { drv?: boolean }) {
  return function (object: object, propertyName: string): void {
    registerDecorator({
      name: 'isStorePath',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be a valid Nix store path${opts?.drv ? ' ending in .drv' : ''}`, ...opts },
      validator: {
        validate(value: unknown): boolean {
          return typeof value === 'string' && isStorePath(value) && (!opts?.drv || value.endsWith('.drv'));
        },
      },
    });
  };
}

/** A string -> string map whose keys match `keyPattern` and whose values are store paths; at most `max` entries. */
export function IsStorePathMap(keyPattern: RegExp, max: number, opts?: ValidationOptions) {
  return function (object: object, propertyName: string): void {
    registerDecorator({
      name: 'isStorePathMap',
      target: object.constructor,
      propertyName,
      options: {
        message: (args: ValidationArguments) =>
          `${args.property} must be an object of at most ${max} entries mapping ${keyPattern} to store paths`,
        ...opts,
      },
      validator: {
        validate(value: unknown): boolean {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          const entries = Object.entries(value as Record<string, unknown>);
          if (entries.length > max) return false;
          return entries.every(([k, v]) => keyPattern.test(k) && typeof v === 'string' && isStorePath(v));
        },
      },
    });
  };
}

/** Nix output names: what Nix accepts in `outputs = [...]`. */
export const OUTPUT_NAME = /^[A-Za-z0-9+\-._?=]{1,64}$/;
/** `<drvPath>^<output>`, the realisation id form the wire uses. */
export const REALISATION_KEY = /^\/nix\/store\/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+\.drv\^[A-Za-z0-9+\-._?=]{1,64}$/;
/**
 * The id rules (docs/contracts.md "Ids"). One rule per kind of id, the same in libs/domain (check.ts) and
 * libs/eventstore (stream-names.ts); test/contracts/ids.spec.ts holds the three to one table.
 * None contains '/' (read models key by `<drvPath>/<attemptId>`) or whitespace.
 */
/** attemptId (and the generic id of older callers): printable, no '.', no NATS wildcards. */
export const ID = /^[A-Za-z0-9_\-:@]{1,128}$/;
export const ATTEMPT_ID = ID;
/**
 * groupId: a single NATS subject token (notifications go to `buildgraph.v1.events.<Type>.<groupId>`,
 * so no '.', '*', '>') and a stream-name suffix (`group-<groupId>` within 128 characters, no ':' or '@').
 */
export const GROUP_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/;
/** farm: a logical name an operator picks; kept subject-token-safe, for per-farm subjects and inbox prefixes. */
export const FARM = GROUP_ID;
/**
 * machine: a host name (builder-1.example.org), optionally user@host or host:port, as Nix's builders name
 * them: the attemptId alphabet plus '.', so every machine recorded before is still valid.
 */
export const MACHINE = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** The messages the wire gives for a refused id, by field. */
export const ID_RULES = {
  attemptId: { pattern: ATTEMPT_ID, message: 'attemptId must be 1-128 characters of [A-Za-z0-9_-:@]' },
  groupId: { pattern: GROUP_ID, message: 'groupId must be 1-120 characters of [A-Za-z0-9_-], starting with a letter or digit' },
  farm: { pattern: FARM, message: 'farm must be 1-120 characters of [A-Za-z0-9_-], starting with a letter or digit' },
  machine: { pattern: MACHINE, message: 'machine must be 1-128 characters of [A-Za-z0-9_.-:@]' },
} as const;
