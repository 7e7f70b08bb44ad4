import { COMMAND_DTOS, CommandName, COMMANDS, GroupMember, SIGNATURE_HEADER } from '@buildgraph/contracts';
import type { OpenAPIObject } from '@nestjs/swagger';
import { getMetadataStorage } from 'class-validator';

type Schema = Record<string, unknown>;

const REPLY: Schema = {
  type: 'object',
  description: '{ok: true, events: [{id, type, position}], positions: [decimal strings], repeat, ...} or {ok: false, error: {code, message, details}}',
};

/** One property's JSON schema, read off its class-validator decorators (the DTOs are the contract). */
function propertySchema(rules: { name?: string; constraints?: unknown[] }[], nested?: Schema): Schema {
  const s: Schema = {};
  for (const r of rules) {
    const c = r.constraints ?? [];
    switch (r.name) {
      case 'isString':
        s.type = 'string';
        break;
      case 'maxLength':
        s.maxLength = c[0];
        break;
      case 'minLength':
        s.minLength = c[0];
        break;
      case 'matches':
        Object.assign(s, { type: 'string', pattern: String(c[0]).slice(1, -1) });
        break;
      case 'isStorePath':
        Object.assign(s, { type: 'string', description: 'a Nix store path, /nix/store/<32 nix-base32 chars>-<name>' });
        break;
      case 'isStorePathMap':
        Object.assign(s, { type: 'object', additionalProperties: { type: 'string', description: 'a Nix store path' } });
        break;
      case 'isIn':
        Object.assign(s, { type: 'string', enum: c[0] });
        break;
      case 'isInt':
        s.type = 'integer';
        break;
      case 'min':
        s.minimum = c[0];
        break;
      case 'max':
        s.maximum = c[0];
        break;
      case 'isBoolean':
        s.type = 'boolean';
        break;
      case 'isIso8601':
        Object.assign(s, { type: 'string', format: 'date-time' });
        break;
      case 'isArray':
        Object.assign(s, { type: 'array', items: nested ?? {} });
        break;
      case 'arrayMinSize':
        s.minItems = c[0];
        break;
      case 'arrayMaxSize':
        s.maxItems = c[0];
        break;
    }
  }
  return s;
}

/** The element classes of nested arrays (class-transformer's @Type keeps them where we cannot read them publicly). */
const NESTED: Record<string, new () => object> = { members: GroupMember };

function dtoSchema(target: new () => object): Schema {
  const rules = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
  const byProperty = new Map<string, typeof rules>();
  for (const r of rules) byProperty.set(r.propertyName, [...(byProperty.get(r.propertyName) ?? []), r]);
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [name, list] of byProperty) {
    const element = list.some((r) => r.type === 'nestedValidation') ? NESTED[name] : undefined;
    properties[name] = propertySchema(list, element ? dtoSchema(element) : undefined);
    if (!list.some((r) => r.name === 'isOptional')) required.push(name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}

/** Adds one documented route per command, generated from the DTOs, replacing the generic `/v1/{command}`. */
export function addCommandRoutes(doc: OpenAPIObject): OpenAPIObject {
  delete doc.paths['/v1/{command}'];
  for (const name of COMMANDS as readonly CommandName[]) {
    doc.paths[`/v1/${name}`] = {
      post: {
        tags: ['commands'],
        summary: `${name} (NATS: buildgraph.v1.${name}, same body and reply)`,
        operationId: `command_${name.replace(/[.-]/g, '_')}`,
        parameters: [{ name: SIGNATURE_HEADER, in: 'header', required: true, description: '<keyname>:<base64 ed25519 signature over the exact body>', schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: dtoSchema(COMMAND_DTOS[name] as new () => object) } } },
        responses: {
          '200': { description: 'recorded (or an identical retry)', content: { 'application/json': { schema: REPLY } } },
          '400': { description: 'INVALID_ARGUMENT' },
          '401': { description: 'UNAUTHENTICATED' },
          '403': { description: 'PERMISSION_DENIED' },
          '404': { description: 'NOT_FOUND or UNKNOWN_SUBJECT' },
          '409': { description: 'CONFLICT' },
          '413': { description: 'PAYLOAD_TOO_LARGE' },
          '503': { description: 'UNAVAILABLE' },
        },
      },
    } as OpenAPIObject['paths'][string];
  }
  return doc;
}
