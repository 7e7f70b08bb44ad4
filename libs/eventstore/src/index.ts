export * from './port';
export * from './errors';
export * from './stream-names';
export { matchesFilter } from './validate';
export { openSqliteEventStore, SqliteEventStore } from './sqlite/sqlite-event-store';
export { openEsdbEventStore, EsdbEventStore } from './esdb/esdb-event-store';
export { openEventStore, describeStoreUrl } from './open';
