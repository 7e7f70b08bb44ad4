/**
 * Crash-safety helper for the contract suite: appends 3-event batches to one stream forever and
 * prints "ack <revision> <id,id,id>" only after each append has resolved (i.e. is durable).
 * The parent kills it with SIGKILL and then checks every acknowledged event survived.
 *   node -r @swc-node/register test/eventstore/crash-child.ts <storeUrl> <stream>
 */
import { randomUUID } from 'node:crypto';
import { openEventStore } from '../../libs/eventstore/src/open';
import type { ExpectedRevision } from '../../libs/eventstore/src/port';

async function main(): Promise<void> {
  const [url, stream] = process.argv.slice(2);
  const store = await openEventStore(url);
  let expected: ExpectedRevision = 'no-stream';
  for (let batch = 0; ; batch++) {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const events = ids.map((id, part) => ({ id, type: 'CrashProbe', data: { batch, part, pad: 'x'.repeat(200) }, metadata: { batch } }));
    const { nextRevision } = await store.append(stream, events, expected);
    expected = nextRevision;
    process.stdout.write(`ack ${nextRevision} ${ids.join(',')}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`crash-child: ${String(err)}\n`);
  process.exit(1);
});
