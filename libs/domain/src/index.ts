/** @buildgraph/domain: the pure core. Events, deciders, failure classification; no framework code. */
export * from './result';
export * from './commands';
export * from './events/types';
export { parseEvent, parseStored, validateEvent, toStored, fromStored, isDomainEventType } from './events/parse';
export type { StoredEvent } from './events/parse';
export { DATA_SCHEMAS } from './events/schemas';
export { UPCASTERS } from './events/upcast';
export * from './failure/classify';
export * from './ids';
export * from './streams';
export * from './drv/commands';
export * from './drv/state';
export { decideDrv, drvDecider, registrationDrvPath } from './drv/decide';
export { normaliseHash } from './drv/checks';
export * from './group/decide';
export { ID_PATTERN, OUTPUT_NAME_PATTERN, MAX_LOG_TAIL_BYTES, MAX_REASON_CHARS } from './check';
export * from './projections';
export * from './policies';
