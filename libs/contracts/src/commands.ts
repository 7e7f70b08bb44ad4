// class-transformer's @Type reads design-time metadata.
import 'reflect-metadata';
import { FAILURE_STATUSES } from '@buildgraph/domain';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  Max,
  ValidateNested,
  IsArray,
  MinLength,
} from 'class-validator';
import { LIMITS } from './limits';
import { ID_RULES, IsStorePath, IsStorePathMap, OUTPUT_NAME, REALISATION_KEY } from './validators';

/** Nix's BuildResult failure statuses: the domain's list, so the wire and the classifier never disagree. */
export { FAILURE_STATUSES };

export class RegisterDrvCommand {
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.atermBytes)
  aterm!: string;

  /** optional: when given, must equal the path recomputed from the text */
  @IsOptional()
  @IsStorePath({ drv: true })
  drvPath?: string;
}

abstract class AttemptCommand {
  @Matches(ID_RULES.attemptId.pattern, { message: ID_RULES.attemptId.message })
  attemptId!: string;

  @IsStorePath({ drv: true })
  drvPath!: string;

  @Matches(ID_RULES.farm.pattern, { message: ID_RULES.farm.message })
  farm!: string;

  /** the derivation's ATerm, so an attempt for an unregistered drv can register it on the way */
  @IsOptional()
  @IsString()
  @MaxLength(LIMITS.atermBytes)
  aterm?: string;
}

abstract class MachineAttemptCommand extends AttemptCommand {
  @Matches(ID_RULES.machine.pattern, { message: ID_RULES.machine.message })
  machine!: string;
}

export class StartAttemptCommand extends MachineAttemptCommand {
  @IsOptional()
  @Matches(ID_RULES.groupId.pattern, { message: ID_RULES.groupId.message })
  groupId?: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  startedAt?: string;
}

export class SucceedAttemptCommand extends MachineAttemptCommand {
  @IsStorePathMap(OUTPUT_NAME, LIMITS.outputs)
  outputs!: Record<string, string>;

  @IsOptional()
  @IsStorePathMap(REALISATION_KEY, LIMITS.inputRealisations)
  inputRealisations?: Record<string, string>;

  @IsOptional()
  @IsBoolean()
  substituted?: boolean;

  @IsOptional()
  @IsISO8601({ strict: true })
  finishedAt?: string;
}

export class FailAttemptCommand extends MachineAttemptCommand {
  @IsIn(FAILURE_STATUSES)
  status!: (typeof FAILURE_STATUSES)[number];

  @IsOptional()
  @IsInt()
  @Min(-255)
  @Max(255)
  exitCode?: number;

  /** the build log (UTF-8); the service stores it content-addressed and keeps sha256, size and tail in the event */
  @IsString()
  @MaxLength(LIMITS.logBytes)
  log!: string;

  @IsOptional()
  @IsISO8601({ strict: true })
  finishedAt?: string;
}

export class ResolveAttemptCommand extends AttemptCommand {
  @IsStorePathMap(REALISATION_KEY, LIMITS.inputRealisations)
  inputRealisations!: Record<string, string>;
}

export class PoisonCommand {
  @IsStorePath({ drv: true })
  drvPath!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.reasonChars)
  reason!: string;
}

export class ClearFailureCommand extends PoisonCommand {}

export class GroupMember {
  @IsStorePath({ drv: true })
  drvPath!: string;

  @IsOptional()
  @Matches(ID_RULES.machine.pattern, { message: ID_RULES.machine.message })
  machine?: string;
}

export class OpenGroupCommand {
  @Matches(ID_RULES.groupId.pattern, { message: ID_RULES.groupId.message })
  groupId!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(LIMITS.groupMembers)
  @ValidateNested({ each: true })
  @Type(() => GroupMember)
  members!: GroupMember[];

  @IsISO8601({ strict: true })
  deadline!: string;
}

abstract class FodCommand {
  @IsStorePath({ drv: true })
  drvPath!: string;

  @Matches(ID_RULES.attemptId.pattern, { message: ID_RULES.attemptId.message })
  attemptId!: string;

  @Matches(ID_RULES.farm.pattern, { message: ID_RULES.farm.message })
  farm!: string;

  /** sha256 over the "unfixed" twin of the FOD (its inputs), hex */
  @Matches(/^[0-9a-f]{64}$/, { message: 'inputsFingerprint must be 64 lowercase hex characters' })
  inputsFingerprint!: string;

  /** `<algo>:<hash>` as Nix prints it in SRI or base16/base32 form */
  @IsString()
  @MaxLength(256)
  expectedHash!: string;
}

export class FodVerifiedCommand extends FodCommand {}

export class FodMismatchCommand extends FodCommand {
  @IsString()
  @MaxLength(256)
  actualHash!: string;
}

export const COMMAND_DTOS = {
  'drv.register': RegisterDrvCommand,
  'attempt.start': StartAttemptCommand,
  'attempt.succeed': SucceedAttemptCommand,
  'attempt.fail': FailAttemptCommand,
  'attempt.resolve': ResolveAttemptCommand,
  'drv.poison': PoisonCommand,
  'drv.clear-failure': ClearFailureCommand,
  'group.open': OpenGroupCommand,
  'fod.verified': FodVerifiedCommand,
  'fod.mismatch': FodMismatchCommand,
} as const;
