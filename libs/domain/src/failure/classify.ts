/**
 * Failure classification: from Nix's BuildResult status, the builder's exit code and the log tail to a
 * cause and a negative-cache decision.
 *
 * The base is Hydra's policy, by status: retry TransientFailure and MiscFailure; cache PermanentFailure,
 * InputRejected, OutputRejected and NotDeterministic; neither for TimedOut and LogLimitExceeded.
 * Log evidence then refines it (rules below, first match wins). Evidence of the machine's trouble
 * (out of memory, full disk) makes any failure a retry: it says nothing about the derivation. Evidence
 * of a network failure names the cause but keeps the status's decision, because Nix already told the
 * two cases apart: a sandboxed builder has no network, so it fails the same way every time
 * (PermanentFailure), while a fixed-output fetcher's failure is reported as TransientFailure.
 */

/** Nix's BuildResult::Status failure names (Nix 2.8, plus NoSubstituters from later releases). */
export const FAILURE_STATUSES = [
  'PermanentFailure',
  'InputRejected',
  'OutputRejected',
  'TransientFailure',
  'CachedFailure',
  'TimedOut',
  'MiscFailure',
  'DependencyFailed',
  'LogLimitExceeded',
  'NotDeterministic',
  'NoSubstituters',
] as const;
export type FailureStatus = (typeof FAILURE_STATUSES)[number];

export const FAILURE_CAUSES = [
  'oom',
  'disk-full',
  'network',
  'timeout',
  'log-limit',
  'dependency',
  'builder',
  'hash-mismatch',
  'unknown',
] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

/** 'cache': negative-cache it; 'retry': transient, build again; 'none': neither (Hydra's TimedOut, LogLimitExceeded). */
export const FAILURE_CACHE = ['cache', 'retry', 'none'] as const;
export type FailureCache = (typeof FAILURE_CACHE)[number];

export interface FailureReport {
  status: FailureStatus;
  exitCode?: number;
  /** the last few KiB of the build log */
  logTail: string;
}

export interface FailureClassification {
  cause: FailureCause;
  /** true exactly when cache is 'retry' */
  transient: boolean;
  cache: FailureCache;
  /** the rule that decided it: `status:<Status>` or `evidence:<rule>`, for logs and tests */
  decidedBy: string;
}

interface StatusPolicy {
  cause: FailureCause;
  cache: FailureCache;
  /** true when the status itself says why (Nix measured it), so log evidence must not override it */
  definitive: boolean;
}

const STATUS_POLICY: Record<FailureStatus, StatusPolicy> = {
  PermanentFailure: { cause: 'builder', cache: 'cache', definitive: false },
  InputRejected: { cause: 'builder', cache: 'cache', definitive: false },
  OutputRejected: { cause: 'builder', cache: 'cache', definitive: false },
  NotDeterministic: { cause: 'builder', cache: 'cache', definitive: true },
  TransientFailure: { cause: 'unknown', cache: 'retry', definitive: false },
  MiscFailure: { cause: 'unknown', cache: 'retry', definitive: false },
  // Nix's own (long unused) failure cache: trust that it was cached for a reason
  CachedFailure: { cause: 'unknown', cache: 'cache', definitive: false },
  TimedOut: { cause: 'timeout', cache: 'none', definitive: true },
  LogLimitExceeded: { cause: 'log-limit', cache: 'none', definitive: true },
  // the projection forgets it once the dependency succeeds
  DependencyFailed: { cause: 'dependency', cache: 'cache', definitive: true },
  // no substituter had it and building was not allowed: nothing about the derivation
  NoSubstituters: { cause: 'unknown', cache: 'retry', definitive: true },
};

interface EvidenceRule {
  name: string;
  cause: FailureCause;
  /** overrides the status's cache decision; absent keeps it */
  cache?: FailureCache;
  patterns: RegExp[];
  exitCodes?: number[];
}

/** First match wins: the more specific and the more "root" causes come first. */
export const EVIDENCE_RULES: readonly EvidenceRule[] = [
  {
    name: 'hash-mismatch',
    cause: 'hash-mismatch',
    cache: 'cache',
    patterns: [
      /hash mismatch in fixed-output derivation/,
      /hash mismatch in file downloaded from/,
      /hash mismatch importing path/,
    ],
  },
  {
    name: 'disk-full',
    cause: 'disk-full',
    cache: 'retry',
    patterns: [/No space left on device/i, /\bENOSPC\b/, /Disk quota exceeded/i, /\bEDQUOT\b/],
  },
  {
    name: 'oom',
    cause: 'oom',
    cache: 'retry',
    patterns: [
      /Out of memory/i,
      /\boom[-_ ]?kill/i,
      /Cannot allocate memory/,
      /std::bad_alloc/,
      /virtual memory exhausted/,
      /JavaScript heap out of memory/,
      /java\.lang\.OutOfMemoryError/,
      /^MemoryError\b/m,
      /Killed signal terminated program/,
      /terminated with signal 9 \[Killed\]/,
      /failed due to signal 9 \(Killed\)/,
      /^Killed\s*$/m,
    ],
    // 128 + SIGKILL: on build machines that is nearly always the kernel's OOM killer
    // (Nix's own timeouts are reported as TimedOut, not as an exit code)
    exitCodes: [137],
  },
  {
    name: 'timeout',
    cause: 'timeout',
    cache: 'none',
    patterns: [/timed out after \d+ seconds/],
  },
  {
    name: 'log-limit',
    cause: 'log-limit',
    cache: 'none',
    patterns: [/killed after writing more than \d+ bytes of log output/],
  },
  {
    name: 'network',
    cause: 'network',
    patterns: [
      /Could not resolve host/i,
      /Couldn't resolve host/i,
      /Temporary failure in name resolution/i,
      /Name or service not known/i,
      /\bgetaddrinfo\b.*\b(ENOTFOUND|EAI_AGAIN)\b/,
      /Connection refused/i,
      /Connection timed out/i,
      /Connection reset by peer/i,
      /Network is unreachable/i,
      /No route to host/i,
      /Failed to connect to /,
      /unable to download '/,
      /TLS handshake timeout/,
    ],
  },
  {
    name: 'dependency',
    cause: 'dependency',
    cache: 'cache',
    patterns: [/dependencies of derivation '[^']*' failed to build/],
  },
];

/**
 * Nix's own warnings (substituters it could not reach, and so on) are not the build's failure:
 * a tail taken from nix-build's stderr must not read as a network failure because of them.
 */
function evidenceLines(logTail: string): string {
  return logTail
    .split('\n')
    .filter((line) => !/^\s*warning:/.test(line))
    .join('\n');
}

function decision(cause: FailureCause, cache: FailureCache, decidedBy: string): FailureClassification {
  return { cause, cache, transient: cache === 'retry', decidedBy };
}

export function classifyFailure(report: FailureReport): FailureClassification {
  const policy = STATUS_POLICY[report.status];
  if (policy.definitive) return decision(policy.cause, policy.cache, `status:${report.status}`);
  const text = evidenceLines(report.logTail);
  for (const rule of EVIDENCE_RULES) {
    const byExit = report.exitCode !== undefined && (rule.exitCodes ?? []).includes(report.exitCode);
    if (byExit || rule.patterns.some((p) => p.test(text))) {
      return decision(rule.cause, rule.cache ?? policy.cache, `evidence:${rule.name}`);
    }
  }
  return decision(policy.cause, policy.cache, `status:${report.status}`);
}

/**
 * The cache decision of an AttemptFailed v1, written before `cache` existed: v1 kept `transient`, and
 * among the non-transient only timeouts and log limits are neither cached nor retried.
 */
export function cacheOfV1(cause: FailureCause, transient: boolean): FailureCache {
  if (transient) return 'retry';
  return cause === 'timeout' || cause === 'log-limit' ? 'none' : 'cache';
}
