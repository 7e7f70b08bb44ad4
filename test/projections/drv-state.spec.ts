/** drv state and the negative cache, as an operator sees them: given events, when asked, then this answer. */
import {
  DEFAULT_NEGATIVE_CACHE,
  DRV_STATE,
  shouldBuild,
  type DrvStateDoc,
  type NegativeCacheConfig,
} from '@buildgraph/domain';
import { Farm, doc, project } from './support';

const state = (farm: Farm, drvPath: string): DrvStateDoc =>
  doc<DrvStateDoc>(project(farm.log), DRV_STATE, drvPath);

describe('drv state', () => {
  it('goes unknown -> building -> valid, with its outputs, recent attempts and farms', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    expect(state(farm, hello.drvPath).status).toBe('unknown');
    farm.started(hello, 'a1', { farm: 'farm-a', machine: 'm1' });
    expect(state(farm, hello.drvPath)).toMatchObject({ status: 'building', inProgress: ['a1'] });
    farm.succeeded(hello, 'a1');
    const s = state(farm, hello.drvPath);
    expect(s).toMatchObject({
      status: 'valid',
      validOutputs: hello.outputs,
      serial: 0,
      farms: ['farm-a'],
      inProgress: [],
    });
    expect(s.attempts).toEqual([
      expect.objectContaining({ attemptId: 'a1', farm: 'farm-a', machine: 'm1', outcome: 'succeeded' }),
    ]);
  });

  it('a failure is recorded with status, cause, log tail and who built it; a later success forgets it', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    farm.started(hello, 'a1', { farm: 'farm-b', machine: 'big-1' });
    farm.failed(hello, 'a1', {
      status: 'PermanentFailure',
      cause: 'builder',
      cache: 'cache',
      tail: 'make: *** Error 2',
    });
    expect(state(farm, hello.drvPath)).toMatchObject({
      status: 'failed',
      failure: {
        status: 'PermanentFailure',
        cause: 'builder',
        logTail: 'make: *** Error 2',
        farm: 'farm-b',
        machine: 'big-1',
        attemptId: 'a1',
      },
    });
    farm.built(hello, 'a2');
    const s = state(farm, hello.drvPath);
    expect(s.status).toBe('valid');
    expect(s.failure).toBeUndefined();
  });

  it('poisoning bumps the serial and drops the poisoned result; invalidation drops a consumer result', () => {
    const farm = new Farm();
    const lib = farm.drv('lib');
    const app = farm.drv('app', [lib]);
    farm.built(lib, 'l1');
    farm.built(app, 'p1');
    const root = farm.poisoned(lib, 1, ['l1'], [lib.outputs.out]);
    expect(state(farm, lib.drvPath)).toMatchObject({
      status: 'poisoned',
      serial: 1,
      validOutputs: {},
      results: {},
    });
    expect(state(farm, app.drvPath).status).toBe('valid'); // the policy, not the projection, invalidates consumers
    farm.log.push({
      id: '00000000-0000-5000-8000-000000000001',
      type: 'ResultInvalidated',
      data: {
        drvPath: app.drvPath,
        serial: 0,
        because: { drvPath: lib.drvPath, outputPath: lib.outputs.out, rootEventId: root.id },
        attemptIds: ['p1'],
        outputPaths: [app.outputs.out],
      },
      metadata: {
        schemaVersion: 1,
        correlationId: 'c',
        causationId: root.id,
        recordedAt: farm.now().toISOString(),
      },
    });
    expect(state(farm, app.drvPath)).toMatchObject({
      status: 'invalidated',
      invalidated: { because: { drvPath: lib.drvPath } },
    });
  });

  it('keeps only the ten most recent attempts', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    for (let i = 1; i <= 12; i++) {
      farm.started(hello, `a${i}`);
      farm.failed(hello, `a${i}`, { status: 'MiscFailure', cause: 'oom', cache: 'retry' });
    }
    expect(state(farm, hello.drvPath).attempts.map((a) => a.attemptId)).toEqual([
      'a3',
      'a4',
      'a5',
      'a6',
      'a7',
      'a8',
      'a9',
      'a10',
      'a11',
      'a12',
    ]);
  });

  it('run twice over the same events, same documents', () => {
    const farm = new Farm();
    const a = farm.drv('a');
    const b = farm.drv('b', [a]);
    farm.built(a, 'x');
    farm.built(b, 'y');
    expect(JSON.stringify([...project(farm.log).get(DRV_STATE)!])).toBe(
      JSON.stringify([...project(farm.log).get(DRV_STATE)!]),
    );
  });
});

describe('negative cache: shouldBuild', () => {
  const config: NegativeCacheConfig = DEFAULT_NEGATIVE_CACHE;
  const ask = (farm: Farm, drvPath: string, at: Date, opts: Parameters<typeof shouldBuild>[3] = {}) =>
    shouldBuild(state(farm, drvPath), at, config, opts);

  it('an unknown drv is built; a valid one is skipped with its outputs; one building is waited for', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    expect(ask(farm, hello.drvPath, farm.now()).decision).toBe('build');
    expect(shouldBuild(undefined, farm.now()).decision).toBe('build');
    farm.started(hello, 'a1');
    expect(ask(farm, hello.drvPath, farm.now())).toMatchObject({
      decision: 'wait-in-progress',
      attemptIds: ['a1'],
    });
    farm.succeeded(hello, 'a1');
    expect(ask(farm, hello.drvPath, farm.now())).toMatchObject({
      decision: 'skip-valid',
      outputs: hello.outputs,
    });
  });

  it('a permanent failure is skipped, with status, cause, log tail, when and by whom, until its TTL expires', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    farm.started(hello, 'a1', { farm: 'farm-b', machine: 'm7' });
    farm.failed(hello, 'a1', {
      status: 'PermanentFailure',
      cause: 'builder',
      cache: 'cache',
      tail: 'Error 2',
    });
    const failedAt = Date.parse(state(farm, hello.drvPath).failure!.at);
    const justBefore = new Date(failedAt + config.failureTtlMs - 1);
    expect(ask(farm, hello.drvPath, justBefore)).toMatchObject({
      decision: 'skip-cached-failure',
      status: 'PermanentFailure',
      cause: 'builder',
      logTail: 'Error 2',
      at: new Date(failedAt).toISOString(),
      by: { attemptId: 'a1', farm: 'farm-b', machine: 'm7' },
    });
    expect(ask(farm, hello.drvPath, new Date(failedAt + config.failureTtlMs)).decision).toBe('build');
    expect(ask(farm, hello.drvPath, justBefore, { force: true }).decision).toBe('build');
  });

  it('FailureCleared forgets a cached failure', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    farm.started(hello, 'a1');
    farm.failed(hello, 'a1', { status: 'OutputRejected', cause: 'builder', cache: 'cache' });
    farm.cleared(hello, 'a1');
    expect(ask(farm, hello.drvPath, farm.now())).toMatchObject({
      decision: 'build',
      reason: 'failure cleared by alice',
    });
  });

  it('transient failures back off 60 s, 180 s, 540 s, ... and after 5 in a row are cached', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    const delays: number[] = [];
    for (let i = 1; i <= 5; i++) {
      farm.started(hello, `a${i}`);
      farm.failed(hello, `a${i}`, { status: 'MiscFailure', cause: 'oom', cache: 'retry' });
      const s = state(farm, hello.drvPath);
      const answer = ask(farm, hello.drvPath, new Date(Date.parse(s.failure!.at) + 1));
      if (answer.decision === 'retry-after')
        delays.push(Date.parse(answer.retryAt) - Date.parse(s.failure!.at));
      else expect(answer).toMatchObject({ decision: 'skip-cached-failure', cause: 'oom' });
    }
    expect(delays).toEqual([60_000, 180_000, 540_000, 1_620_000]);
    const s = state(farm, hello.drvPath);
    expect(ask(farm, hello.drvPath, new Date(Date.parse(s.failure!.at) + 1), { force: true }).decision).toBe(
      'build',
    );
  });

  it('backoff is configurable, and once it has elapsed the drv is built again', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    farm.started(hello, 'a1');
    farm.failed(hello, 'a1', { status: 'TransientFailure', cause: 'network', cache: 'retry' });
    const at = Date.parse(state(farm, hello.drvPath).failure!.at);
    const quick = { ...config, retryDelayMs: 1000 };
    expect(shouldBuild(state(farm, hello.drvPath), new Date(at + 999), quick).decision).toBe('retry-after');
    expect(shouldBuild(state(farm, hello.drvPath), new Date(at + 1000), quick).decision).toBe('build');
  });

  it('TimedOut is neither cached nor retried on a schedule: it is built when asked', () => {
    const farm = new Farm();
    const hello = farm.drv('hello');
    farm.started(hello, 'a1');
    farm.failed(hello, 'a1', { status: 'TimedOut', cause: 'timeout', cache: 'none' });
    expect(ask(farm, hello.drvPath, farm.now()).decision).toBe('build');
  });

  it('a DependencyFailed failure is forgotten once the failing dependency succeeds', () => {
    const farm = new Farm();
    const lib = farm.drv('lib');
    const app = farm.drv('app', [lib]);
    farm.started(lib, 'l1');
    farm.failed(lib, 'l1', { status: 'PermanentFailure', cause: 'builder', cache: 'cache' });
    farm.started(app, 'p1');
    farm.failed(app, 'p1', { status: 'DependencyFailed', cause: 'dependency', cache: 'cache' });
    const deps = () => [state(farm, lib.drvPath)];
    expect(ask(farm, app.drvPath, farm.now(), { dependencies: deps() }).decision).toBe('skip-cached-failure');
    farm.cleared(lib, 'l1');
    farm.built(lib, 'l2');
    expect(ask(farm, app.drvPath, farm.now(), { dependencies: deps() })).toMatchObject({
      decision: 'build',
      reason: `dependency ${lib.drvPath} succeeded since the failure`,
    });
  });
});
