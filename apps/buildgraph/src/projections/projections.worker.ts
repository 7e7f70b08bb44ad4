/**
 * The read models and policies, on their own thread: their SQLite work (applying each batch,
 * committing the read store, walking the build trace) no longer holds the event loop that answers
 * commands. The thread has its own event-store connection, which follows the appends of the intake's
 * connection through the shared file (SQLite WAL), and the only read-write connection to the read store.
 */
import { DomainEvent } from '@buildgraph/domain';
import { describeStoreUrl, EventStore, openEventStore, openSqliteEventStore } from '@buildgraph/eventstore';
import { decodeEvent, GroupPolicy, InvalidationPolicy, PROJECTIONS, ProjectionError, ProjectionRunner, ReadStore } from '@buildgraph/projections';
import { existsSync, renameSync } from 'node:fs';
import { MessagePort } from 'node:worker_threads';
import type { ThreadLog } from '../threads/thread';

export interface ProjectionsWorkerData {
  store: string;
  readStorePath: string;
  /** how often the thread looks for appends made by the intake's connection (SQLite) */
  pollMs: number;
  tickMs: number;
}

/** Thread -> service. `ready`: the read store exists and may be opened read-only. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | ThreadLog
  | { type: 'stopped' };

/** Service -> thread. */
export type ServiceMessage = { type: 'stop' };

/** The policies the runner drives; their checkpoints are `processor:<name>`. */
export const POLICIES = ['invalidation', 'group'];

async function openStore(url: string, pollMs: number): Promise<EventStore> {
  const target = describeStoreUrl(url);
  return target.kind === 'sqlite' ? openSqliteEventStore(target.path, { pollExternalAppendsMs: pollMs }) : openEventStore(url);
}

function openRunner(store: EventStore, path: string, tickMs: number, post: (m: WorkerMessage) => void): { readStore: ReadStore; runner: ProjectionRunner<DomainEvent> } {
  const policyLog = (message: string, details?: Record<string, unknown>): void => post({ type: 'log', level: 'warn', message, details });
  const open = (): { readStore: ReadStore; runner: ProjectionRunner<DomainEvent> } => {
    const readStore = new ReadStore(path);
    try {
      const runner = new ProjectionRunner<DomainEvent>({
        events: store,
        readStore,
        projections: PROJECTIONS,
        decode: decodeEvent,
        processors: [new InvalidationPolicy(), new GroupPolicy(policyLog)],
        tickMs,
      });
      return { readStore, runner };
    } catch (e) {
      readStore.close();
      throw e;
    }
  };
  try {
    return open();
  } catch (e) {
    // read models are disposable: one built by other projection versions is moved aside and rebuilt
    if (!(e instanceof ProjectionError && (e.code === 'READ_STORE_MISMATCH' || e.code === 'READ_STORE_CORRUPT')) || !existsSync(path)) throw e;
    const aside = `${path}.stale-${Date.now()}`;
    post({ type: 'log', level: 'warn', message: `${e.message}; moving it to ${aside} and rebuilding the read models from the log` });
    renameSync(path, aside);
    for (const suffix of ['-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    return open();
  }
}

/** The thread's body: open, say ready, catch up, follow the log until told to stop. */
export async function runProjectionsWorker(data: ProjectionsWorkerData, port: MessagePort): Promise<void> {
  const post = (m: WorkerMessage): void => port.postMessage(m);
  let store: EventStore | undefined;
  let opened: ReturnType<typeof openRunner> | undefined;
  try {
    store = await openStore(data.store, data.pollMs);
    opened = openRunner(store, data.readStorePath, data.tickMs, post);
  } catch (e) {
    await store?.close().catch(() => undefined);
    post({ type: 'failed', message: (e as Error).message });
    return;
  }
  const { runner, readStore } = opened;
  const events = store;
  let stopping = false;
  // catching up can take a while on a big log: the service answers meanwhile, and the lag metric shows it
  const running = (async () => {
    const head = await events.headPosition();
    if (runner.position < head) post({ type: 'log', level: 'log', message: `catching up read models from ${runner.position} to ${head}` });
    await runner.catchUp();
    if (stopping) return;
    await runner.start();
    // the supervisor (threads/thread.ts) restarts the thread, which resumes from the checkpoint
    runner.done.catch((e: unknown) => stopping || post({ type: 'failed', message: `projections stopped: ${(e as Error).message}` }));
  })().catch((e: unknown) => stopping || post({ type: 'failed', message: `projections failed: ${(e as Error).message}` }));
  port.on('message', (m: ServiceMessage) => {
    if (m.type !== 'stop' || stopping) return;
    stopping = true;
    void (async () => {
      await running;
      await runner.stop();
      readStore.close();
      await events.close();
      post({ type: 'stopped' });
      port.close();
    })();
  });
  post({ type: 'ready' });
}
