import type { EventsHandler, Position, RecordedEvent, Subscription } from './port';

/**
 * Wakes subscribers when the store's head moves. In-process only: a store learns about its own
 * commits, so a second process writing the same SQLite file is not followed live (docs/eventstore.md).
 */
export class HeadNotifier {
  private waiters = new Set<() => void>();
  private closed = false;

  constructor(private current: Position) {}

  get head(): Position {
    return this.current;
  }

  advance(head: Position): void {
    if (head <= this.current) return;
    this.current = head;
    this.wakeAll();
  }

  /** Resolves once the head is beyond `after`, or the notifier is closed. */
  waitBeyond(after: Position): Promise<void> {
    if (this.closed || this.current > after) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

export interface CatchUpSource {
  /**
   * Reads the next matching events after `after` (at most `limit`), and how far the log was
   * scanned: when fewer than `limit` came back, everything up to the head was looked at.
   */
  readAfter(after: Position, limit: number): { events: RecordedEvent[]; scannedTo: Position };
  notifier: HeadNotifier;
  isClosed(): boolean;
}

/**
 * Catch-up-then-live as one loop: always read `position > cursor` from the store, deliver, and
 * sleep on the notifier only when nothing is left. Reading (not pushing) is what rules out gaps
 * and duplicates at the switch from catch-up to live.
 */
export function pullSubscription(source: CatchUpSource, from: Position, batchSize: number, onEvents: EventsHandler): Subscription {
  let cursor = from;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stopSignal = new Promise<void>((resolve) => (wake = resolve));

  const run = async (): Promise<void> => {
    while (!stopped && !source.isClosed()) {
      const { events, scannedTo } = source.readAfter(cursor, batchSize);
      if (events.length > 0) {
        await onEvents(events);
        cursor = events[events.length - 1].position;
        if (events.length < batchSize && scannedTo > cursor) cursor = scannedTo;
        continue;
      }
      if (scannedTo > cursor) cursor = scannedTo;
      await Promise.race([source.notifier.waitBeyond(cursor), stopSignal]);
    }
  };
  const done = run();
  done.catch(() => undefined); // failures are reported through `done`; never an unhandled rejection
  return {
    get position() {
      return cursor;
    },
    done,
    async close() {
      stopped = true;
      wake?.();
      await done.catch(() => undefined);
    },
  };
}
