import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import { cpus } from 'node:os';
import { resolve } from 'node:path';

/**
 * The service's settings, read from the environment once at start-up and validated; a bad value stops
 * start-up with a message naming the variable. Property names are the environment variable names so
 * the message a user sees is the name they typed.
 */
export class ServiceConfig {
  /** `sqlite:PATH` (embedded, default) or `esdb://...` / `esdb+discover://...` (EventStoreDB) */
  @Matches(/^(sqlite:.+|esdb(\+discover)?:\/\/.+)$/, { message: 'BUILDGRAPH_STORE must be sqlite:PATH or esdb://HOST:PORT?...' })
  BUILDGRAPH_STORE!: string;

  /** comma-separated nats:// or tls:// URLs; unset = HTTP only */
  @IsOptional()
  @Matches(/^((nats|tls|ws|wss):\/\/[^,\s]+)(,(nats|tls|ws|wss):\/\/[^,\s]+)*$/, {
    message: 'BUILDGRAPH_NATS_URL must be one or more comma-separated nats://HOST:PORT URLs',
  })
  BUILDGRAPH_NATS_URL?: string;

  @Type(() => Number)
  @IsInt({ message: 'BUILDGRAPH_HTTP_PORT must be an integer' })
  @Min(0, { message: 'BUILDGRAPH_HTTP_PORT must be 0-65535' })
  @Max(65535, { message: 'BUILDGRAPH_HTTP_PORT must be 0-65535' })
  BUILDGRAPH_HTTP_PORT!: number;

  /** file of `<role> <name:base64>` lines; unset = a local operator key in the data dir */
  @IsOptional()
  @IsString()
  BUILDGRAPH_TRUSTED_KEYS?: string;

  @IsString()
  BUILDGRAPH_DATA_DIR!: string;

  /** NATS queue group shared by service replicas */
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'BUILDGRAPH_NATS_QUEUE must be 1-64 of [A-Za-z0-9_-]' })
  BUILDGRAPH_NATS_QUEUE!: string;

  /** how long a cached permanent failure is honoured before a rebuild is allowed */
  @Type(() => Number)
  @IsInt({ message: 'BUILDGRAPH_FAILURE_TTL_SECONDS must be an integer' })
  @Min(0, { message: 'BUILDGRAPH_FAILURE_TTL_SECONDS must be >= 0' })
  BUILDGRAPH_FAILURE_TTL_SECONDS!: number;

  /** a FOD not really executed for this many days is due for re-verification */
  @Type(() => Number)
  @IsInt({ message: 'BUILDGRAPH_FOD_REVERIFY_DAYS must be an integer' })
  @Min(1, { message: 'BUILDGRAPH_FOD_REVERIFY_DAYS must be >= 1' })
  BUILDGRAPH_FOD_REVERIFY_DAYS!: number;

  /** how long shutdown waits for in-flight commands */
  @Type(() => Number)
  @IsInt({ message: 'BUILDGRAPH_SHUTDOWN_GRACE_MS must be an integer' })
  @Min(0, { message: 'BUILDGRAPH_SHUTDOWN_GRACE_MS must be >= 0' })
  BUILDGRAPH_SHUTDOWN_GRACE_MS!: number;

  /** worker threads verifying signatures (0: on the main thread) */
  @Type(() => Number)
  @IsInt({ message: 'BUILDGRAPH_VERIFY_THREADS must be an integer' })
  @Min(0, { message: 'BUILDGRAPH_VERIFY_THREADS must be 0-16' })
  @Max(16, { message: 'BUILDGRAPH_VERIFY_THREADS must be 0-16' })
  BUILDGRAPH_VERIFY_THREADS!: number;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'BUILDGRAPH_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' })
  BUILDGRAPH_LOG_LEVEL!: string;
}

export const DEFAULTS = {
  BUILDGRAPH_DATA_DIR: './data',
  BUILDGRAPH_HTTP_PORT: '8080',
  BUILDGRAPH_NATS_QUEUE: 'buildgraph',
  BUILDGRAPH_FAILURE_TTL_SECONDS: String(7 * 24 * 3600),
  BUILDGRAPH_FOD_REVERIFY_DAYS: '30',
  BUILDGRAPH_SHUTDOWN_GRACE_MS: '10000',
  BUILDGRAPH_LOG_LEVEL: 'info',
  // one core stays with the event loop; up to 4 verify signatures
  BUILDGRAPH_VERIFY_THREADS: String(Math.max(0, Math.min(4, cpus().length - 1))),
};

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the settings; throws ConfigError naming the first bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const raw: Record<string, string | undefined> = {};
  const pick = (name: string, fallback?: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  for (const [k, v] of Object.entries(DEFAULTS)) raw[k] = pick(k, v);
  raw.BUILDGRAPH_STORE = pick('BUILDGRAPH_STORE', `sqlite:${resolve(raw.BUILDGRAPH_DATA_DIR ?? DEFAULTS.BUILDGRAPH_DATA_DIR, 'buildgraph.sqlite')}`);
  raw.BUILDGRAPH_NATS_URL = pick('BUILDGRAPH_NATS_URL');
  raw.BUILDGRAPH_TRUSTED_KEYS = pick('BUILDGRAPH_TRUSTED_KEYS');
  for (const [k, v] of Object.entries(raw)) {
    if (v !== undefined && /[\r\n]/.test(v)) throw new ConfigError(k, `${k} must be a single line`);
  }
  const config = plainToInstance(ServiceConfig, raw);
  const errors = validateSync(config, { whitelist: true });
  if (errors.length > 0) {
    const first = errors[0];
    const problem = Object.values(first.constraints ?? {})[0] ?? `${first.property} is invalid`;
    throw new ConfigError(first.property, `invalid setting ${first.property}=${JSON.stringify(raw[first.property] ?? '')}: ${problem}`);
  }
  return config;
}

/** `sqlite:PATH` -> PATH, resolved against the working directory; undefined for other stores. */
export function sqlitePath(store: string): string | undefined {
  return store.startsWith('sqlite:') ? resolve(store.slice('sqlite:'.length)) : undefined;
}

export const SERVICE_CONFIG = 'buildgraph.ServiceConfig';
