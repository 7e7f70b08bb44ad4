/**
 * The same contract against a running EventStoreDB:
 *   EVENTSTORE_URL=esdb://localhost:2113?tls=false npm run test:esdb
 * (`docker compose up -d eventstore` starts one). No server runs on the CI machines, so this file
 * is only picked up by jest.esdb.config.js; see docs/eventstore.md for what was verified where.
 */
import { openEsdbEventStore, openEventStore, type EventStore } from '@buildgraph/eventstore';
import { eventStoreContract } from './contract';

const url = process.env.EVENTSTORE_URL;

if (!url) {
  describe('EventStore contract: eventstoredb', () => {
    it('needs EVENTSTORE_URL (e.g. esdb://localhost:2113?tls=false)', () => {
      throw new Error('EVENTSTORE_URL is not set: start EventStoreDB and set it to run this suite');
    });
  });
} else {
  eventStoreContract(
    'eventstoredb',
    () => openEsdbEventStore(url),
    (store: EventStore) => store.close(),
    // The child writes to a fresh stream on the same server; the parent reconnects to read it.
    { crashUrl: () => url, openUrl: (u) => openEventStore(u) },
  );
}
