import { EventStoreError } from './errors';
import { openEsdbEventStore } from './esdb/esdb-event-store';
import type { EventStore } from './port';
import { openSqliteEventStore } from './sqlite/sqlite-event-store';

/**
 * Opens the store named by a BUILDGRAPH_STORE-style setting:
 *   esdb://host:2113?tls=false   (or esdb+discover://...)  EventStoreDB
 *   sqlite:/path/to/events.db    or a plain path             embedded SQLite (the default)
 */
export async function openEventStore(url: string): Promise<EventStore> {
  const target = describeStoreUrl(url);
  return target.kind === 'esdb' ? openEsdbEventStore(target.url) : openSqliteEventStore(target.path);
}

export type StoreTarget = { kind: 'esdb'; url: string } | { kind: 'sqlite'; path: string };

/** Parses a store setting without opening anything (for start-up validation). */
export function describeStoreUrl(url: string): StoreTarget {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new EventStoreError('INVALID_ARGUMENT', 'event store setting is empty: give esdb://host:2113?tls=false or sqlite:/path/events.db');
  }
  if (/^esdb(\+discover)?:\/\//.test(url)) return { kind: 'esdb', url };
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', path: url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new EventStoreError('INVALID_ARGUMENT', `unsupported event store URL scheme in ${JSON.stringify(url)}: use esdb:// or sqlite:`);
  }
  return { kind: 'sqlite', path: url };
}
