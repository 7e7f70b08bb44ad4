import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore, openSqliteEventStore, type EventStore } from '@buildgraph/eventstore';
import { eventStoreContract } from './contract';

const dirs: string[] = [];
function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bg-es-'));
  dirs.push(dir);
  return join(dir, 'events.db');
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

eventStoreContract(
  'sqlite',
  () => openSqliteEventStore(freshPath()),
  (store: EventStore) => store.close(),
  { crashUrl: () => `sqlite:${freshPath()}`, openUrl: (url) => openEventStore(url) },
);
