/**
 * Store paths that must not be trusted: outputs of poisoned and invalidated results, with the
 * poisoning (root event) that condemned them, until a new success produces the path again. The
 * invalidation policy checks a success's inputs against it: a result built on a condemned path after
 * the poisoning was walked is invalidated too.
 */
import type { DomainEvent } from '../events/types';
import { NO_KEYS, ReadModel } from './read-model';

export const BAD_PATHS = 'bad-paths';

export interface BadPathDoc {
  /** the ResultPoisoned that condemned it (directly, or through invalidations) */
  rootEventId: string;
  /** the drv whose result produced the path */
  drvPath: string;
  /** the root's correlation id and time: policy events reuse them, so every replica writes the same bytes */
  correlationId: string;
  recordedAt: string;
}

export const badPathsModel: ReadModel<BadPathDoc> = {
  name: BAD_PATHS,
  version: 1,
  keys: (event) => {
    switch (event.type) {
      case 'ResultPoisoned':
      case 'ResultInvalidated':
        return event.data.outputPaths;
      case 'AttemptSucceeded':
        return Object.values(event.data.outputs);
      default:
        return NO_KEYS;
    }
  },
  evolve: (doc, event: DomainEvent) => {
    switch (event.type) {
      case 'ResultPoisoned':
        return {
          rootEventId: event.id,
          drvPath: event.data.drvPath,
          correlationId: event.metadata.correlationId,
          recordedAt: event.metadata.recordedAt,
        };
      case 'ResultInvalidated':
        // the first condemnation stands: its root is the one the policy walked
        return (
          doc ?? {
            rootEventId: event.data.because.rootEventId,
            drvPath: event.data.drvPath,
            correlationId: event.metadata.correlationId,
            recordedAt: event.metadata.recordedAt,
          }
        );
      case 'AttemptSucceeded':
        return undefined; // built again: trusted again
      default:
        return doc;
    }
  },
};
