/**
 * Failure classification. Table rows are log excerpts written the way Nix 2.8 and real builders print
 * them; the second suite classifies logs that a real `nix-build` produced on this machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { describeWith } from '../../../../test/support/env';
import {
  FAILURE_CAUSES,
  FAILURE_STATUSES,
  FailureCache,
  FailureCause,
  FailureStatus,
  classifyFailure,
} from './classify';

const drvPath = makeTextPath('hello-2.12.1.drv', sha256Hex('hello'), []);
const fodPath = makeTextPath('source.tar.gz.drv', sha256Hex('source'), []);

interface Row {
  behaviour: string;
  status: FailureStatus;
  exitCode?: number;
  tail: string;
  cause: FailureCause;
  cache: FailureCache;
}

const rows: Row[] = [
  {
    behaviour: 'a compiler failing in the sandbox is the builder, cached',
    status: 'PermanentFailure',
    exitCode: 2,
    tail: `hello.c:3:1: error: expected ';' before '}' token\nmake: *** [Makefile:12: all] Error 1\nerror: builder for '${drvPath}' failed with exit code 2`,
    cause: 'builder',
    cache: 'cache',
  },
  {
    behaviour: 'exit code 137 (SIGKILL from the OOM killer) is retried',
    status: 'PermanentFailure',
    exitCode: 137,
    tail: `[ 41%] Building CXX object src/CMakeFiles/big.dir/huge.cpp.o\nerror: builder for '${drvPath}' failed with exit code 137`,
    cause: 'oom',
    cache: 'retry',
  },
  {
    behaviour: 'gcc killed while compiling is out of memory, retried',
    status: 'PermanentFailure',
    exitCode: 2,
    tail: `g++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.\nmake[2]: *** [Makefile:98: huge.o] Error 1\nerror: builder for '${drvPath}' failed with exit code 2`,
    cause: 'oom',
    cache: 'retry',
  },
  {
    behaviour: "node's heap limit is out of memory, retried",
    status: 'PermanentFailure',
    exitCode: 134,
    tail: '<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n 1: 0xb7f0b0 node::Abort() [node]',
    cause: 'oom',
    cache: 'retry',
  },
  {
    behaviour: 'a full disk is the machine, not the derivation: retried',
    status: 'PermanentFailure',
    exitCode: 1,
    tail: `cp: error writing '/build/source/libbig.a': No space left on device\nerror: builder for '${drvPath}' failed with exit code 1`,
    cause: 'disk-full',
    cache: 'retry',
  },
  {
    behaviour:
      'a fetcher that cannot resolve its host is a network failure, retried (Nix reports a FOD failure as transient)',
    status: 'TransientFailure',
    exitCode: 1,
    tail: `trying https://example.org/source.tar.gz\n  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\ncurl: (6) Could not resolve host: example.org\nerror: cannot download source.tar.gz from any mirror\nerror: builder for '${fodPath}' failed with exit code 1`,
    cause: 'network',
    cache: 'retry',
  },
  {
    behaviour: 'a refused connection in a fetcher is a network failure, retried',
    status: 'TransientFailure',
    exitCode: 128,
    tail: "fatal: unable to access 'https://git.example.org/repo.git/': Failed to connect to git.example.org port 443: Connection refused",
    cause: 'network',
    cache: 'retry',
  },
  {
    behaviour: 'a sandboxed test that needs the network fails the same way every time: network, but cached',
    status: 'PermanentFailure',
    exitCode: 1,
    tail: 'E   socket.gaierror: [Errno -3] Temporary failure in name resolution\nFAILED tests/test_client.py::test_fetch - socket.gaierror\n==== 1 failed, 211 passed in 12.31s ====',
    cause: 'network',
    cache: 'cache',
  },
  {
    behaviour: "Nix's own substituter warnings are not the build's failure",
    status: 'PermanentFailure',
    exitCode: 2,
    tail: `warning: error: unable to download 'https://cache.nixos.org/nix-cache-info': Couldn't resolve host name (6); retrying in 296 ms\nbuilding '${drvPath}'...\nerror: builder for '${drvPath}' failed with exit code 2`,
    cause: 'builder',
    cache: 'cache',
  },
  {
    behaviour: 'a fixed-output hash mismatch (Nix 2.8 wording) is cached',
    status: 'OutputRejected',
    tail: `error: hash mismatch in fixed-output derivation '${fodPath}':\n         specified: sha256-${Buffer.from(sha256Hex('a'), 'hex').toString('base64')}\n            got:    sha256-${Buffer.from(sha256Hex('b'), 'hex').toString('base64')}`,
    cause: 'hash-mismatch',
    cache: 'cache',
  },
  {
    behaviour: 'a timeout is neither cached nor retried, whatever the log says',
    status: 'TimedOut',
    tail: `error: building of '${drvPath}!out' from .drv file timed out after 3600 seconds\nNo space left on device`,
    cause: 'timeout',
    cache: 'none',
  },
  {
    behaviour: 'a log over the limit is neither cached nor retried',
    status: 'LogLimitExceeded',
    tail: `error: building of '${drvPath}!out' from .drv file killed after writing more than 67108864 bytes of log output`,
    cause: 'log-limit',
    cache: 'none',
  },
  {
    behaviour: 'a timeout that reached us as MiscFailure (through a remote build hook) is still a timeout',
    status: 'MiscFailure',
    tail: `error: building of '${drvPath}!out' from .drv file timed out after 7200 seconds of silence`,
    cause: 'timeout',
    cache: 'none',
  },
  {
    behaviour: 'a failed dependency is cached until the dependency succeeds',
    status: 'DependencyFailed',
    tail: `error: 1 dependencies of derivation '${drvPath}' failed to build`,
    cause: 'dependency',
    cache: 'cache',
  },
  {
    behaviour: 'a non-deterministic build is the builder, cached',
    status: 'NotDeterministic',
    tail: `error: derivation '${drvPath}' may not be deterministic: output differs`,
    cause: 'builder',
    cache: 'cache',
  },
  {
    behaviour: 'a miscellaneous failure with no evidence is unknown, retried',
    status: 'MiscFailure',
    tail: 'error: unexpected end-of-file',
    cause: 'unknown',
    cache: 'retry',
  },
  {
    behaviour: 'a derivation the machine cannot build (wrong system) is rejected input, cached',
    status: 'InputRejected',
    tail: `error: a 'aarch64-linux' with features {} is required to build '${drvPath}', but I am a 'x86_64-linux' with features {benchmark, big-parallel, kvm, nixos-test}`,
    cause: 'builder',
    cache: 'cache',
  },
];

describe('failure classification (Hydra policy refined by log evidence)', () => {
  it.each(rows)('$behaviour', ({ status, exitCode, tail, cause, cache }) => {
    const c = classifyFailure({ status, exitCode, logTail: tail });
    expect({ cause: c.cause, cache: c.cache, transient: c.transient }).toEqual({
      cause,
      cache,
      transient: cache === 'retry',
    });
  });

  it('every status is classified, and transient means exactly "retry"', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FAILURE_STATUSES),
        fc.option(fc.integer({ min: -255, max: 255 }), { nil: undefined }),
        fc.string(),
        (status, exitCode, logTail) => {
          const c = classifyFailure({ status, exitCode, logTail });
          expect(FAILURE_CAUSES).toContain(c.cause);
          expect(c.transient).toBe(c.cache === 'retry');
          if (status === 'TimedOut' || status === 'LogLimitExceeded') expect(c.cache).toBe('none');
        },
      ),
    );
  });
});

const run = promisify(execFile);

/** nix-build's stderr for a derivation that fails; nix-build exits non-zero, which is the point. */
async function failingBuild(dir: string, name: string, attrs: string, extra: string[] = []): Promise<string> {
  const file = join(dir, `${name}.nix`);
  writeFileSync(
    file,
    `derivation ({ name = "${name}"; system = builtins.currentSystem; builder = "/bin/sh"; } // ${attrs})`,
  );
  try {
    await run('nix-build', [file, '--no-out-link', '--option', 'substituters', '', ...extra], {
      encoding: 'utf8',
    });
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  throw new Error(`${name} was expected to fail`);
}

describeWith(['nix-build'], 'failure classification of logs real Nix printed', () => {
  const logs: Record<string, string> = {};

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bg-classify-'));
    const [oomExit, signal, compile, hash, limit] = await Promise.all([
      failingBuild(
        dir,
        'bg-classify-137',
        `{ args = [ "-c" "echo compiling; /bin/sh -c 'kill -9 $$'; exit $?" ]; }`,
      ),
      failingBuild(dir, 'bg-classify-signal', `{ args = [ "-c" "echo linking; kill -9 $$" ]; }`),
      failingBuild(
        dir,
        'bg-classify-exit2',
        `{ args = [ "-c" "echo 'make: *** [Makefile:12: all] Error 1' >&2; exit 2" ]; }`,
      ),
      failingBuild(
        dir,
        'bg-classify-fod',
        `{ args = [ "-c" "echo fetched > $out" ]; outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = builtins.hashString "sha256" "expected"; }`,
      ),
      failingBuild(
        dir,
        'bg-classify-loglimit',
        `{ args = [ "-c" "i=0; while [ $i -lt 100 ]; do echo 0123456789abcdef; i=$((i+1)); done" ]; }`,
        ['--option', 'max-build-log-size', '64'],
      ),
    ]);
    Object.assign(logs, { oomExit, signal, compile, hash, limit });
  });

  it('a builder that exits with 137 after its child is killed is out of memory, retried', () => {
    expect(logs.oomExit).toMatch(/failed with exit code 137/);
    expect(
      classifyFailure({ status: 'PermanentFailure', exitCode: 137, logTail: logs.oomExit }),
    ).toMatchObject({ cause: 'oom', cache: 'retry' });
  });

  it('a builder killed by signal 9 is out of memory even without an exit code', () => {
    expect(logs.signal).toMatch(/signal 9/);
    expect(classifyFailure({ status: 'PermanentFailure', logTail: logs.signal })).toMatchObject({
      cause: 'oom',
      cache: 'retry',
    });
  });

  it('a builder exiting with 2 is the builder, cached', () => {
    expect(classifyFailure({ status: 'PermanentFailure', exitCode: 2, logTail: logs.compile })).toMatchObject(
      { cause: 'builder', cache: 'cache' },
    );
  });

  it("Nix's fixed-output hash mismatch is recognised", () => {
    expect(logs.hash).toMatch(/specified:/);
    expect(classifyFailure({ status: 'OutputRejected', logTail: logs.hash })).toMatchObject({
      cause: 'hash-mismatch',
      cache: 'cache',
    });
  });

  it("Nix's log limit message is recognised even when the status was lost on the way", () => {
    expect(classifyFailure({ status: 'MiscFailure', logTail: logs.limit })).toMatchObject({
      cause: 'log-limit',
      cache: 'none',
    });
  });
});
