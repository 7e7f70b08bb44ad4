/**
 * One real story across two streams, with .drv files from nix-instantiate: a library is built, an app is
 * built on top of it, the library's build turns out bad and is poisoned, and the app's result that
 * consumed it is invalidated, while a later failing rebuild is classified and its cached failure cleared.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDerivation, sha256Hex } from '@buildgraph/nix';
import { describeWith } from '../../../../test/support/env';
import { CommandMetadata } from '../commands';
import { DrvEvent, ResultInvalidated, ResultPoisoned } from '../events/types';
import { runCommands } from '../testing/given';
import { DrvCommand } from './commands';
import { drvDecider } from './decide';
import { validAttempts } from './state';

const EXPR = `
let mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
in rec {
  libfoo = mk { name = "bg-scenario-libfoo"; args = [ "-c" "echo lib > $out" ]; };
  app = mk { name = "bg-scenario-app"; args = [ "-c" "echo \${libfoo} > $out" ]; };
}`;

let seq = 0;
let minute = 0;
const meta = (): CommandMetadata => ({
  commandId: `s-${++seq}`,
  recordedAt: new Date(Date.parse('2026-03-01T08:00:00Z') + ++minute * 60_000).toISOString(),
});
const fold = (events: DrvEvent[]) => events.reduce(drvDecider.evolve, drvDecider.initialState());

describeWith(['nix-instantiate'], 'a poisoned library and the app built on it', () => {
  const drv = {} as Record<'libfoo' | 'app', { drvPath: string; aterm: string; out: string }>;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'bg-scenario-'));
    writeFileSync(join(dir, 's.nix'), EXPR);
    const paths = execFileSync('nix-instantiate', [join(dir, 's.nix'), '-A', 'libfoo', '-A', 'app'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n');
    (['libfoo', 'app'] as const).forEach((name, i) => {
      const aterm = readFileSync(paths[i], 'utf8');
      drv[name] = { drvPath: paths[i], aterm, out: parseDerivation(aterm).outputs.out.path };
    });
  });

  it('poisoning the library bumps its serial; the app result that consumed it is invalidated once; a later cached failure can be cleared', () => {
    const lib = drv.libfoo.drvPath;
    const app = drv.app.drvPath;
    const cmd = (type: DrvCommand['type'], data: object): DrvCommand =>
      ({ type, data, metadata: meta() }) as DrvCommand;

    // farm1 builds the library, farm2 the app on top of it, reporting what it consumed
    let libLog = runCommands(drvDecider, [
      cmd('RegisterDerivation', { aterm: drv.libfoo.aterm }),
      cmd('StartAttempt', { drvPath: lib, attemptId: 'lib-1', farm: 'farm1', machine: 'builder-7' }),
      cmd('SucceedAttempt', {
        drvPath: lib,
        attemptId: 'lib-1',
        farm: 'farm1',
        outputs: { out: drv.libfoo.out },
      }),
    ]);
    let appLog = runCommands(drvDecider, [
      cmd('RegisterDerivation', { aterm: drv.app.aterm, drvPath: app }),
      cmd('StartAttempt', { drvPath: app, attemptId: 'app-1', farm: 'farm2', machine: 'builder-2' }),
      cmd('SucceedAttempt', {
        drvPath: app,
        attemptId: 'app-1',
        farm: 'farm2',
        outputs: { out: drv.app.out },
        inputRealisations: { [`${lib}^out`]: drv.libfoo.out },
      }),
    ]);

    // builder-7 had bad RAM: the operator poisons the library's result
    libLog = runCommands(
      drvDecider,
      [cmd('PoisonResult', { drvPath: lib, reason: 'builder-7 failed memtest', cause: 'operator' })],
      libLog,
    );
    const poisoned = libLog[libLog.length - 1] as ResultPoisoned;
    expect(poisoned.data).toMatchObject({ serial: 1, attemptIds: ['lib-1'], outputPaths: [drv.libfoo.out] });
    expect(fold(libLog).serial).toBe(1);

    // the invalidation policy tells the app's stream, once per poisoning, however often it runs
    const invalidate = cmd('InvalidateResult', {
      drvPath: app,
      because: { drvPath: lib, outputPath: drv.libfoo.out, rootEventId: poisoned.id },
    });
    appLog = runCommands(drvDecider, [invalidate, invalidate], appLog);
    const invalidated = appLog.filter((e): e is ResultInvalidated => e.type === 'ResultInvalidated');
    expect(invalidated).toHaveLength(1);
    expect(invalidated[0].data).toMatchObject({
      serial: 0,
      attemptIds: ['app-1'],
      outputPaths: [drv.app.out],
    });
    expect(validAttempts(fold(appLog))).toEqual([]);
    expect(fold(appLog).serial).toBe(0);

    // a rebuild of the library fails: first the network (retry, not cached), then the compiler (cached)
    const failure = (attemptId: string, status: string, tail: string, exitCode: number) =>
      cmd('FailAttempt', {
        drvPath: lib,
        attemptId,
        farm: 'farm1',
        status,
        exitCode,
        log: { sha256: sha256Hex(tail), bytes: Buffer.byteLength(tail), tail },
      });
    libLog = runCommands(
      drvDecider,
      [
        cmd('StartAttempt', { drvPath: lib, attemptId: 'lib-2', farm: 'farm1', machine: 'builder-3' }),
        failure(
          'lib-2',
          'TransientFailure',
          `curl: (6) Could not resolve host: mirror.example.org\nerror: builder for '${lib}' failed with exit code 1`,
          1,
        ),
        cmd('StartAttempt', { drvPath: lib, attemptId: 'lib-3', farm: 'farm1', machine: 'builder-3' }),
        failure(
          'lib-3',
          'PermanentFailure',
          `foo.c:12:5: error: 'bar' undeclared\nerror: builder for '${lib}' failed with exit code 2`,
          2,
        ),
      ],
      libLog,
    );
    const failures = libLog.flatMap((e) => (e.type === 'AttemptFailed' ? [e.data] : []));
    expect(failures.map((f) => [f.cause, f.cache])).toEqual([
      ['network', 'retry'],
      ['builder', 'cache'],
    ]);
    expect(fold(libLog).cachedFailure?.data.attemptId).toBe('lib-3');

    // the developer fixes it and clears the failure (Hydra's "restart"); clearing again changes nothing
    const clear = cmd('ClearFailure', { drvPath: lib, by: 'alice', reason: 'fixed upstream' });
    libLog = runCommands(drvDecider, [clear, clear], libLog);
    expect(libLog.filter((e) => e.type === 'FailureCleared')).toHaveLength(1);
    expect(fold(libLog).cachedFailure).toBeNull();
  });
});
