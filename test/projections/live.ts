/** Helpers to run the real runtime in tests: a SQLite event store, runners with their own read stores. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toStored, type DomainEvent } from '@buildgraph/domain';
import { openSqliteEventStore, type EventStore } from '@buildgraph/eventstore';
import {
  PROJECTIONS,
  ProjectionRunner,
  ReadStore,
  decodeEvent,
  type Processor,
} from '@buildgraph/projections';
import { streamOf } from './support';

export interface Live {
  dir: string;
  store: EventStore;
  append(events: readonly DomainEvent[]): Promise<void>;
  runner(
    name: string,
    processors?: Processor<DomainEvent>[],
    now?: () => Date,
  ): { runner: ProjectionRunner<DomainEvent>; rs: ReadStore };
  /** Waits until every runner has applied, and every processor has handled, the whole log. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function openLive(): Promise<Live> {
  const dir = mkdtempSync(join(tmpdir(), 'bg-proj-'));
  const store = await openSqliteEventStore(join(dir, 'events.sqlite'));
  const runners: {
    runner: ProjectionRunner<DomainEvent>;
    rs: ReadStore;
    processors: Processor<DomainEvent>[];
  }[] = [];
  return {
    dir,
    store,
    async append(events) {
      // issued together, committed in call order by the store's group commit
      await Promise.all(events.map((e) => store.append(streamOf(e), [toStored(e)], 'any')));
    },
    runner(name, processors = [], now) {
      const rs = new ReadStore(join(dir, `${name}.sqlite`));
      const runner = new ProjectionRunner({
        events: store,
        readStore: rs,
        projections: PROJECTIONS,
        decode: decodeEvent,
        processors,
        now,
      });
      runners.push({ runner, rs, processors });
      return { runner, rs };
    },
    async settle() {
      for (let i = 0; i < 500; i++) {
        const head = await store.headPosition();
        const behind = runners.some(
          (r) =>
            r.runner.position < head ||
            r.processors.some((p) => r.rs.checkpoint(`processor:${p.name}`) < head),
        );
        if (!behind) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('runners did not catch up');
    },
    async close() {
      for (const r of runners) {
        await r.runner.stop();
        r.rs.close();
      }
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
