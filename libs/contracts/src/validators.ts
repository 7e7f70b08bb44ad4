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
/** attemptId, groupId, farm and machine names: printable, no spaces, no NATS wildcards or dots. */
export const ID = /^[A-Za-z0-9_\-:@]{1,128}$/;
