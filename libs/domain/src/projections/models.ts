import {
  attemptTraceModel,
  baseTraceModel,
  consumersModel,
  incoherenceModel,
  unreportedConsumersModel,
} from './build-trace';
import { badPathsModel } from './bad-paths';
import { drvStateModel } from './drv-state';
import { fodLedgerModel } from './fod-ledger';
import { graphModel, referrersModel } from './graph';
import { groupOutcomeModel } from './group-outcome';
import { validResultsModel } from './valid-results';
import type { ReadModel } from './read-model';

/**
 * Every read model, in the order they must run: a model that reads others in keys/evolve comes after
 * them (fod-ledger after graph; base-trace and consumers after attempt-trace; incoherence after base-trace).
 */
export const READ_MODELS: readonly ReadModel<unknown>[] = [
  drvStateModel,
  validResultsModel,
  graphModel,
  referrersModel,
  attemptTraceModel,
  baseTraceModel,
  incoherenceModel,
  consumersModel,
  unreportedConsumersModel,
  badPathsModel,
  groupOutcomeModel,
  fodLedgerModel,
] as unknown as readonly ReadModel<unknown>[];
