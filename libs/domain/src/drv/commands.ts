/** The commands a derivation's stream accepts, and their validation at the edge of the domain. */
import {
  Check,
  drvPath,
  farm as farmName,
  groupId as groupIdCheck,
  id,
  machine as machineName,
  integer,
  literal,
  object,
  optional,
  outputName,
  realisationKey,
  reason,
  record,
  sha256Hex,
  storePath,
  string,
  tagged,
  uuid,
  array,
  boolean,
  isoTime,
} from '../check';
import { Command } from '../commands';
import { BuildLog, InputRealisations, PoisonScope } from '../events/types';
import { MAX_INPUTS, MAX_OUTPUTS, atermCheck, logCheck } from '../events/schemas';
import { FAILURE_STATUSES, FailureStatus } from '../failure/classify';

export type RegisterDerivation = Command<'RegisterDerivation', { aterm: string; drvPath?: string }>;
export type StartAttempt = Command<
  'StartAttempt',
  { drvPath: string; attemptId: string; farm: string; machine: string; startedAt?: string; groupId?: string }
>;
export type SucceedAttempt = Command<
  'SucceedAttempt',
  {
    drvPath: string;
    attemptId: string;
    farm: string;
    outputs: Record<string, string>;
    inputRealisations?: InputRealisations;
    substituted?: boolean;
    /** defaults to the command's recordedAt */
    finishedAt?: string;
  }
>;
export type FailAttempt = Command<
  'FailAttempt',
  {
    drvPath: string;
    attemptId: string;
    farm: string;
    status: FailureStatus;
    exitCode?: number;
    log: BuildLog;
    finishedAt?: string;
  }
>;
export type ResolveAttempt = Command<
  'ResolveAttempt',
  {
    drvPath: string;
    attemptId: string;
    farm: string;
    resolvedDrvPath: string;
    inputRealisations: InputRealisations;
  }
>;
export type PoisonResult = Command<
  'PoisonResult',
  {
    drvPath: string;
    reason: string;
    cause: 'operator' | 'group-failure';
    /** absent: every result of the drv that is not poisoned yet */
    scope?: PoisonScope;
  }
>;
export type InvalidateResult = Command<
  'InvalidateResult',
  {
    drvPath: string;
    because: { drvPath: string; outputPath: string; rootEventId: string };
    /** the attempts that consumed the poisoned output (from the build trace); absent: every valid result (graph fallback) */
    attemptIds?: string[];
  }
>;
export type ClearFailure = Command<'ClearFailure', { drvPath: string; by: string; reason: string }>;
export type RecordFodVerification = Command<
  'RecordFodVerification',
  {
    drvPath: string;
    attemptId: string;
    farm: string;
    /** `<algo>:<base16|nix32|base64>` or SRI `<algo>-<base64>`, as Nix prints it */
    expectedHash: string;
    actualHash: string;
    inputsFingerprint: string;
  }
>;

export type DrvCommand =
  | RegisterDerivation
  | StartAttempt
  | SucceedAttempt
  | FailAttempt
  | ResolveAttempt
  | PoisonResult
  | InvalidateResult
  | ClearFailure
  | RecordFodVerification;

const outputs = record(outputName, storePath, { min: 1, max: MAX_OUTPUTS });
const inputRealisations = record(realisationKey, storePath, { max: MAX_INPUTS });
const hashString = string({ min: 1, max: 256 });

export const DRV_COMMAND_SCHEMAS: {
  [T in DrvCommand['type']]: Check<Extract<DrvCommand, { type: T }>['data']>;
} = {
  RegisterDerivation: object({
    aterm: atermCheck,
    drvPath: optional(drvPath),
  }),
  StartAttempt: object({
    drvPath,
    attemptId: id,
    farm: farmName,
    machine: machineName,
    startedAt: optional(isoTime),
    groupId: optional(groupIdCheck),
  }),
  SucceedAttempt: object({
    drvPath,
    attemptId: id,
    farm: farmName,
    outputs,
    inputRealisations: optional(inputRealisations),
    substituted: optional(boolean),
    finishedAt: optional(isoTime),
  }),
  FailAttempt: object({
    drvPath,
    attemptId: id,
    farm: farmName,
    status: literal(FAILURE_STATUSES),
    exitCode: optional(integer(-255, 255)),
    log: logCheck,
    finishedAt: optional(isoTime),
  }),
  ResolveAttempt: object({
    drvPath,
    attemptId: id,
    farm: farmName,
    resolvedDrvPath: drvPath,
    inputRealisations,
  }),
  PoisonResult: object({
    drvPath,
    reason,
    cause: literal(['operator', 'group-failure'] as const),
    scope: optional(
      tagged<PoisonScope>({
        attempt: object({ kind: literal(['attempt'] as const), attemptId: id }),
        outputs: object({
          kind: literal(['outputs'] as const),
          outputPaths: array(storePath, { min: 1, max: MAX_OUTPUTS, unique: true }),
        }),
      }),
    ),
  }),
  InvalidateResult: object({
    drvPath,
    because: object({ drvPath, outputPath: storePath, rootEventId: uuid }),
    attemptIds: optional(array(id, { min: 1, max: MAX_INPUTS, unique: true })),
  }),
  ClearFailure: object({ drvPath, by: string({ min: 1, max: 128 }), reason }),
  RecordFodVerification: object({
    drvPath,
    attemptId: id,
    farm: farmName,
    expectedHash: hashString,
    actualHash: hashString,
    inputsFingerprint: sha256Hex,
  }),
};
