/** NATS subjects and HTTP routes of the v1 wire contract (see README "Wire contract"). */
export const SUBJECT_PREFIX = 'buildgraph.v1.';

export const COMMANDS = [
  'drv.register',
  'attempt.start',
  'attempt.succeed',
  'attempt.fail',
  'attempt.resolve',
  'drv.poison',
  'drv.clear-failure',
  'group.open',
  'fod.verified',
  'fod.mismatch',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export const QUERIES = [
  'drv',
  'should-build',
  'downstream',
  'events',
  'attempt-trace',
  'group',
  'incoherence',
  'fods-due',
  'log',
] as const;
export type QueryName = (typeof QUERIES)[number];

export function commandSubject(name: CommandName): string {
  return `${SUBJECT_PREFIX}${name}`;
}

export function querySubject(name: QueryName): string {
  return `${SUBJECT_PREFIX}query.${name}`;
}

/** Notifications: `buildgraph.v1.events.<EventType>.<drvHashPart | groupId>`. */
export function eventSubject(eventType: string, key: string): string {
  return `${SUBJECT_PREFIX}events.${eventType}.${key}`;
}

export const EVENTS_SUBJECT_WILDCARD = `${SUBJECT_PREFIX}events.>`;
/** The JetStream stream that keeps notifications for subscribers that were offline. */
export const EVENTS_STREAM = 'BUILDGRAPH_EVENTS';

/** Header carrying `<keyname>:<base64 ed25519 signature over the exact request body>` (NATS and HTTP). */
export const SIGNATURE_HEADER = 'Buildgraph-Signature';

export function isCommandName(s: string): s is CommandName {
  return (COMMANDS as readonly string[]).includes(s);
}

export function isQueryName(s: string): s is QueryName {
  return (QUERIES as readonly string[]).includes(s);
}
