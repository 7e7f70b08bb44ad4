/**
 * valid-results: per drv, only what the invalidation walk reads (its serial and the outputs of each
 * result still trusted), kept apart from drv-state so a stdenv poisoning parses ~100 bytes per drv
 * instead of drv-state's attempts, farms and failure. Same rules as drv-state for these two fields.
 */
import type { DomainEvent } from '../events/types';
import { NO_KEYS, ReadModel } from './read-model';

export const VALID_RESULTS = 'valid-results';

export interface ValidResultsDoc {
  /** as drv-state's serial: the highest poisoning serial seen */
  serial: number;
  /** attemptId -> outputs, for the results still trusted (the shape of drv-state's `results`) */
  results: Record<string, { outputs: Record<string, string> }>;
}

/** Without these attempts and with the serial raised to `serial`; `doc` itself when nothing changes. */
function drop(
  doc: ValidResultsDoc | undefined,
  attemptIds: readonly string[],
  serial: number,
): ValidResultsDoc | undefined {
  const prev = doc ?? { serial: 0, results: {} };
  if (serial <= prev.serial && !attemptIds.some((id) => id in prev.results)) return doc;
  const results = { ...prev.results };
  for (const id of attemptIds) delete results[id];
  const next = { serial: Math.max(prev.serial, serial), results };
  // nothing trusted and no serial to remember: the drv needs no document
  return next.serial === 0 && Object.keys(results).length === 0 ? undefined : next;
}

export const validResultsModel: ReadModel<ValidResultsDoc> = {
  name: VALID_RESULTS,
  version: 1,
  keys: (event) => {
    switch (event.type) {
      case 'AttemptSucceeded':
      case 'ResultPoisoned':
      case 'ResultInvalidated':
        return [event.data.drvPath];
      default:
        return NO_KEYS;
    }
  },
  evolve: (doc, event: DomainEvent) => {
    switch (event.type) {
      case 'AttemptSucceeded':
        return {
          serial: doc?.serial ?? 0,
          results: { ...doc?.results, [event.data.attemptId]: { outputs: event.data.outputs } },
        };
      case 'ResultPoisoned':
        return drop(doc, event.data.attemptIds, event.data.serial);
      case 'ResultInvalidated':
        return drop(doc, event.data.attemptIds, 0);
      default:
        return doc;
    }
  },
};
