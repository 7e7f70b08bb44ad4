/**
 * The derivation decider, as a farm operator sees it. Registration uses real .drv files written by
 * `nix-instantiate` (Nix 2.8) in beforeAll; no drv path or hash in this file is typed by hand.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFixedOutputPath, parseDerivation, sha256Hex } from '@buildgraph/nix';
import { describeWith } from '../../../../test/support/env';
import { CommandMetadata } from '../commands';
import { AttemptSucceeded, DerivationRegistered, DrvEvent, ResultPoisoned } from '../events/types';
import { deciderSpec, runCommands } from '../testing/given';
import { DrvCommand } from './commands';
import { drvDecider } from './decide';
import { eventId } from '../ids';
import { fromStored, toStored } from '../events/parse';
import { streamForCommand } from '../routing';
import { drvStreamName } from '../streams';

const EXPR = `
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; } // attrs);
in rec {
  leaf = mk { name = "bg-leaf"; args = [ "-c" "echo leaf > $out" ]; };
  multi = mk { name = "bg-multi"; outputs = [ "out" "dev" ]; args = [ "-c" "echo o > $out; echo d > $dev" ]; };
  app = mk { name = "bg-app"; args = [ "-c" "echo \${leaf} \${multi.dev} > $out" ]; };
  fetched = mk {
    name = "bg-fetched"; outputHashMode = "flat"; outputHashAlgo = "sha256";
    outputHash = builtins.hashString "sha256" "fixed\\n"; args = [ "-c" "echo fixed > $out" ];
  };
  ca = mk { name = "bg-ca"; __contentAddressed = true; outputHashMode = "recursive"; outputHashAlgo = "sha256"; args = [ "-c" "echo ca > $out" ]; };
}`;
const ATTRS = ['leaf', 'multi', 'app', 'fetched', 'ca'] as const;
type Attr = (typeof ATTRS)[number];

const spec = deciderSpec(drvDecider);
let seq = 0;
const meta = (over: Partial<CommandMetadata> = {}): CommandMetadata => ({
  commandId: `cmd-${++seq}`,
  recordedAt: '2026-01-01T10:00:00Z',
  ...over,
});

describeWith(['nix-instantiate', 'nix'], 'a derivation', () => {
  const drv = {} as Record<Attr, { drvPath: string; aterm: string; outputs: Record<string, string> }>;
  const registered = {} as Record<Attr, DerivationRegistered>;
  let sri = '';
  let nix32 = '';

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'bg-domain-'));
    writeFileSync(join(dir, 'drvs.nix'), EXPR);
    const args = [
      '--extra-experimental-features',
      'ca-derivations',
      join(dir, 'drvs.nix'),
      ...ATTRS.flatMap((a) => ['-A', a]),
    ];
    const paths = execFileSync('nix-instantiate', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n');
    ATTRS.forEach((attr, i) => {
      const aterm = readFileSync(paths[i], 'utf8');
      const outputs = Object.fromEntries(
        Object.entries(parseDerivation(aterm).outputs).map(([name, o]) => [name, o.path]),
      );
      drv[attr] = { drvPath: paths[i], aterm, outputs };
      const r = drvDecider.decide(
        { type: 'RegisterDerivation', data: { aterm }, metadata: meta() },
        drvDecider.initialState(),
      );
      if (!r.ok) throw new Error(r.error.message);
      registered[attr] = r.value.events[0] as DerivationRegistered;
    });
    const hex = parseDerivation(drv.fetched.aterm).outputs.out.hash;
    const nixCmd = ['--extra-experimental-features', 'nix-command'];
    sri = execFileSync('nix', [...nixCmd, 'hash', 'to-sri', '--type', 'sha256', hex], {
      encoding: 'utf8',
    }).trim();
    nix32 = execFileSync('nix-hash', ['--type', 'sha256', '--to-base32', hex], { encoding: 'utf8' }).trim();
  });

  const start = (attr: Attr, attemptId = 'a1', farm = 'farm1'): DrvCommand => ({
    type: 'StartAttempt',
    data: { drvPath: drv[attr].drvPath, attemptId, farm, machine: 'm1' },
    metadata: meta(),
  });
  const succeed = (
    attr: Attr,
    attemptId = 'a1',
    outputs = drv[attr].outputs,
    extra: object = {},
  ): DrvCommand => ({
    type: 'SucceedAttempt',
    data: { drvPath: drv[attr].drvPath, attemptId, farm: 'farm1', outputs, ...extra },
    metadata: meta(),
  });
  const failWith = (
    attr: Attr,
    attemptId: string,
    status: 'PermanentFailure' | 'TransientFailure',
    tail: string,
    exitCode?: number,
  ): DrvCommand => ({
    type: 'FailAttempt',
    data: {
      drvPath: drv[attr].drvPath,
      attemptId,
      farm: 'farm1',
      status,
      ...(exitCode === undefined ? {} : { exitCode }),
      log: { sha256: sha256Hex(tail), bytes: tail.length, tail },
    },
    metadata: meta(),
  });
  /** events of a drv registered and built once by attempt a1 */
  const built = (attr: Attr): DrvEvent[] =>
    runCommands(drvDecider, [start(attr), succeed(attr)], [registered[attr]]);

  describe('registration', () => {
    it('records the drv path Nix computed, with name, system, outputs, inputs and the ATerm text', () => {
      const e = registered.app;
      expect(e.data.drvPath).toBe(drv.app.drvPath);
      expect(e.data.name).toBe('bg-app');
      expect(e.data.system).toBe('x86_64-linux');
      expect(e.data.aterm).toBe(drv.app.aterm);
      expect(Object.keys(e.data.inputDrvs).sort()).toEqual([drv.leaf.drvPath, drv.multi.drvPath].sort());
      expect(e.data.inputDrvs[drv.multi.drvPath]).toEqual(['dev']);
      expect(e.data.outputs.out.path).toBe(drv.app.outputs.out);
    });

    it('accepts a claimed drv path that matches the text', () => {
      spec
        .given()
        .when({
          type: 'RegisterDerivation',
          data: { aterm: drv.leaf.aterm, drvPath: drv.leaf.drvPath },
          metadata: meta(),
        })
        .thenTypes('DerivationRegistered');
    });

    it("refuses a text claimed under another drv's path, and records nothing", () => {
      spec
        .given()
        .when({
          type: 'RegisterDerivation',
          data: { aterm: drv.leaf.aterm, drvPath: drv.app.drvPath },
          metadata: meta(),
        })
        .thenError('INVALID_ARGUMENT', /hashes to/);
    });

    it('refuses a .drv edited after Nix wrote it, because it no longer hashes to its claimed path', () => {
      const edited = drv.leaf.aterm.replace('echo leaf', 'echo evil');
      expect(edited).not.toBe(drv.leaf.aterm);
      spec
        .given()
        .when({
          type: 'RegisterDerivation',
          data: { aterm: edited, drvPath: drv.leaf.drvPath },
          metadata: meta(),
        })
        .thenError('INVALID_ARGUMENT');
    });

    it('refuses text that is not a derivation, naming the byte offset', () => {
      const r = spec
        .given()
        .when({
          type: 'RegisterDerivation',
          data: { aterm: drv.leaf.aterm.slice(0, 40) },
          metadata: meta(),
        }).decided;
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('INVALID_ARGUMENT');
        expect(r.error.details).toMatchObject({
          field: 'aterm',
          nixCode: 'DRV_PARSE',
          offset: expect.any(Number),
        });
      }
    });

    it('a registration without a claimed path is routed to the stream of the path Nix computed', () => {
      expect(
        streamForCommand({ type: 'RegisterDerivation', data: { aterm: drv.app.aterm }, metadata: meta() }),
      ).toEqual({
        ok: true,
        value: { stream: drvStreamName(drv.app.drvPath), aggregate: 'drv' },
      });
    });

    it('registering the same drv again returns the original registration', () => {
      spec
        .given([registered.leaf])
        .when({ type: 'RegisterDerivation', data: { aterm: drv.leaf.aterm }, metadata: meta() })
        .thenDuplicateOf(registered.leaf);
    });

    it('the same registration always gets the same event id, so a retried append is a no-op in the store', () => {
      const again = drvDecider.decide(
        { type: 'RegisterDerivation', data: { aterm: drv.leaf.aterm }, metadata: meta() },
        drvDecider.initialState(),
      );
      expect(again.ok && again.value.events[0].id).toBe(registered.leaf.id);
    });
  });

  describe('attempts', () => {
    it('an attempt on a drv that was never registered is NOT_FOUND', () => {
      spec.given().when(start('leaf')).thenError('NOT_FOUND');
    });

    it('a success must be for an attempt that was started', () => {
      spec
        .given([registered.leaf])
        .when(succeed('leaf'))
        .thenError('NOT_FOUND', /never started/);
    });

    it('a started attempt succeeds with the output paths the drv fixes', () => {
      const [e] = spec
        .given(runCommands(drvDecider, [start('leaf')], [registered.leaf]))
        .when(succeed('leaf'))
        .thenTypes('AttemptSucceeded');
      expect((e as AttemptSucceeded).data.outputs).toEqual(drv.leaf.outputs);
    });

    it('a success reporting another output path than the drv fixes is refused', () => {
      spec
        .given(runCommands(drvDecider, [start('leaf')], [registered.leaf]))
        .when(succeed('leaf', 'a1', { out: drv.app.outputs.out }))
        .thenError('INVALID_ARGUMENT', /fixes this output's path/);
    });

    it('a success must name every output of a multi-output drv', () => {
      spec
        .given(runCommands(drvDecider, [start('multi')], [registered.multi]))
        .when(succeed('multi', 'a1', { out: drv.multi.outputs.out }))
        .thenError('INVALID_ARGUMENT', /exactly the derivation's outputs/);
    });

    it('a floating content-addressed output may be any path carrying the output name', () => {
      const given = runCommands(drvDecider, [start('ca')], [registered.ca]);
      const anyPath = makeFixedOutputPath('bg-ca', 'nar', 'sha256', sha256Hex('some build'));
      spec
        .given(given)
        .when(succeed('ca', 'a1', { out: anyPath }))
        .thenTypes('AttemptSucceeded');
      const misnamed = makeFixedOutputPath('bg-other', 'nar', 'sha256', sha256Hex('some build'));
      spec
        .given(given)
        .when(succeed('ca', 'a1', { out: misnamed }))
        .thenError('INVALID_ARGUMENT', /must be named 'bg-ca'/);
    });

    it('an attempt ends once: the identical success sent again returns the original event', () => {
      const events = built('leaf');
      const original = events[events.length - 1];
      spec.given(events).when(succeed('leaf')).thenDuplicateOf(original);
    });

    it('an attempt ends once: a failure reported after its success is a CONFLICT', () => {
      spec
        .given(built('leaf'))
        .when(failWith('leaf', 'a1', 'PermanentFailure', 'oops', 1))
        .thenError('CONFLICT');
    });

    it('an attempt ends once: a success with other outputs after a success is a CONFLICT', () => {
      const given = runCommands(
        drvDecider,
        [
          start('ca'),
          succeed('ca', 'a1', { out: makeFixedOutputPath('bg-ca', 'nar', 'sha256', sha256Hex('1')) }),
        ],
        [registered.ca],
      );
      spec
        .given(given)
        .when(succeed('ca', 'a1', { out: makeFixedOutputPath('bg-ca', 'nar', 'sha256', sha256Hex('2')) }))
        .thenError('CONFLICT');
    });

    it('a farm cannot end an attempt another farm started', () => {
      const given = runCommands(drvDecider, [start('leaf', 'a1', 'farm2')], [registered.leaf]);
      spec.given(given).when(succeed('leaf')).thenError('PERMISSION_DENIED');
    });

    it('starting the same attempt again returns the original start; starting it on another machine is a CONFLICT', () => {
      const given = runCommands(drvDecider, [start('leaf')], [registered.leaf]);
      spec.given(given).when(start('leaf')).thenDuplicateOf(given[1]);
      const reordered = {
        type: 'StartAttempt',
        data: { machine: 'm1', farm: 'farm1', attemptId: 'a1', drvPath: drv.leaf.drvPath },
        metadata: meta(),
      } as DrvCommand;
      spec.given(given).when(reordered).thenDuplicateOf(given[1]);
      spec
        .given(given)
        .when({
          type: 'StartAttempt',
          data: { drvPath: drv.leaf.drvPath, attemptId: 'a1', farm: 'farm1', machine: 'm2' },
          metadata: meta(),
        })
        .thenError('CONFLICT');
    });

    it('a failure is classified when it is recorded: exit code 137 is the OOM killer, worth a retry', () => {
      const tail = `building '${drv.leaf.drvPath}'...\nKilled\nerror: builder for '${drv.leaf.drvPath}' failed with exit code 137\n`;
      const [e] = spec
        .given(runCommands(drvDecider, [start('leaf')], [registered.leaf]))
        .when(failWith('leaf', 'a1', 'PermanentFailure', tail, 137))
        .thenTypes('AttemptFailed');
      expect(e.data).toMatchObject({
        status: 'PermanentFailure',
        exitCode: 137,
        cause: 'oom',
        transient: true,
        cache: 'retry',
      });
    });

    it('the same failure reported again later (a retry with a fresh finishedAt) returns the original event', () => {
      const events = runCommands(
        drvDecider,
        [start('leaf'), failWith('leaf', 'a1', 'PermanentFailure', 'make: *** [all] Error 2', 2)],
        [registered.leaf],
      );
      const retry = failWith('leaf', 'a1', 'PermanentFailure', 'make: *** [all] Error 2', 2);
      spec
        .given(events)
        .when({ ...retry, metadata: meta({ recordedAt: '2026-01-01T11:00:00Z' }) })
        .thenDuplicateOf(events[2]);
    });

    it('a failure recorded at schema version 1 still recognises the same report sent again', () => {
      const events = runCommands(
        drvDecider,
        [start('leaf'), failWith('leaf', 'a1', 'PermanentFailure', 'make: *** [all] Error 2', 2)],
        [registered.leaf],
      );
      const stored = toStored(events[2]);
      const { cache: _cache, ...v1Data } = stored.data;
      const v1 = fromStored({ ...stored, data: v1Data, metadata: { ...stored.metadata, schemaVersion: 1 } });
      expect(v1).toEqual(events[2]);
      spec
        .given([events[0], events[1], v1 as DrvEvent])
        .when(failWith('leaf', 'a1', 'PermanentFailure', 'make: *** [all] Error 2', 2))
        .thenDuplicateOf(v1 as DrvEvent);
    });

    it('a success may report what it consumed, but only inputs of this drv', () => {
      const given = runCommands(drvDecider, [start('app')], [registered.app]);
      const consumed = {
        [`${drv.leaf.drvPath}^out`]: drv.leaf.outputs.out,
        [`${drv.multi.drvPath}^dev`]: drv.multi.outputs.dev,
      };
      spec
        .given(given)
        .when(succeed('app', 'a1', drv.app.outputs, { inputRealisations: consumed }))
        .thenTypes('AttemptSucceeded');
      const foreign = { [`${drv.fetched.drvPath}^out`]: drv.fetched.outputs.out };
      spec
        .given(given)
        .when(succeed('app', 'a1', drv.app.outputs, { inputRealisations: foreign }))
        .thenError('INVALID_ARGUMENT', /not inputs of/);
    });
  });

  describe('resolution', () => {
    const resolveCmd = (inputRealisations: Record<string, string>, resolvedDrvPath: string): DrvCommand => ({
      type: 'ResolveAttempt',
      data: { drvPath: drv.app.drvPath, attemptId: 'a1', farm: 'farm1', resolvedDrvPath, inputRealisations },
      metadata: meta(),
    });
    const all = () => ({
      [`${drv.leaf.drvPath}^out`]: drv.leaf.outputs.out,
      [`${drv.multi.drvPath}^dev`]: drv.multi.outputs.dev,
    });

    it('records the resolved drv of an attempt, once', () => {
      const given = runCommands(drvDecider, [start('app')], [registered.app]);
      const [e] = spec.given(given).when(resolveCmd(all(), drv.leaf.drvPath)).thenTypes('AttemptResolved');
      spec
        .given([...given, e])
        .when(resolveCmd(all(), drv.leaf.drvPath))
        .thenDuplicateOf(e);
      spec
        .given([...given, e])
        .when(resolveCmd(all(), drv.multi.drvPath))
        .thenError('CONFLICT');
    });

    it('needs a realisation for every input derivation output', () => {
      const partial = { [`${drv.leaf.drvPath}^out`]: drv.leaf.outputs.out };
      spec
        .given(runCommands(drvDecider, [start('app')], [registered.app]))
        .when(resolveCmd(partial, drv.leaf.drvPath))
        .thenError('INVALID_ARGUMENT', /every input/);
    });

    it('of an attempt never started is NOT_FOUND', () => {
      spec.given([registered.app]).when(resolveCmd(all(), drv.leaf.drvPath)).thenError('NOT_FOUND');
    });
  });

  describe('poisoning', () => {
    const poison = (attr: Attr, scope?: { kind: 'attempt'; attemptId: string }): DrvCommand => ({
      type: 'PoisonResult',
      data: {
        drvPath: drv[attr].drvPath,
        reason: 'flaky hardware on m1',
        cause: 'operator',
        ...(scope ? { scope } : {}),
      },
      metadata: meta(),
    });

    it('bumps the serial and names the output paths subscribers must stop trusting', () => {
      const [e] = spec.given(built('multi')).when(poison('multi')).thenTypes('ResultPoisoned');
      const p = e as ResultPoisoned;
      expect(p.data.serial).toBe(1);
      expect(p.data.attemptIds).toEqual(['a1']);
      expect(p.data.outputPaths).toEqual(Object.values(drv.multi.outputs).sort());
    });

    it('poisoning an already poisoned result returns the first poisoning', () => {
      const events = runCommands(drvDecider, [poison('leaf')], built('leaf'));
      spec
        .given(events)
        .when(poison('leaf'))
        .thenDuplicateOf(events[events.length - 1]);
      spec
        .given(events)
        .when(poison('leaf', { kind: 'attempt', attemptId: 'a1' }))
        .thenDuplicateOf(events[events.length - 1]);
    });

    it('a new success after a poisoning can be poisoned again, at the next serial', () => {
      const events = runCommands(
        drvDecider,
        [poison('leaf'), start('leaf', 'a2'), succeed('leaf', 'a2')],
        built('leaf'),
      );
      const [e] = spec.given(events).when(poison('leaf')).thenTypes('ResultPoisoned');
      expect((e as ResultPoisoned).data).toMatchObject({ serial: 2, attemptIds: ['a2'] });
    });

    it('poisoning by output path cancels every success that produced it, and refuses paths never produced', () => {
      const events = runCommands(
        drvDecider,
        [start('leaf', 'a2', 'farm2'), succeed('leaf', 'a2', drv.leaf.outputs, { farm: 'farm2' })],
        built('leaf'),
      );
      const byPath = (outputPaths: string[]): DrvCommand => ({
        type: 'PoisonResult',
        data: {
          drvPath: drv.leaf.drvPath,
          reason: 'bad output',
          cause: 'operator',
          scope: { kind: 'outputs', outputPaths },
        },
        metadata: meta(),
      });
      const [e] = spec
        .given(events)
        .when(byPath([drv.leaf.outputs.out]))
        .thenTypes('ResultPoisoned');
      expect((e as ResultPoisoned).data).toMatchObject({ serial: 1, attemptIds: ['a1', 'a2'] });
      spec
        .given(events)
        .when(byPath([drv.app.outputs.out]))
        .thenError('FAILED_PRECONDITION', /no attempt/);
    });

    it('a drv that never succeeded cannot be poisoned', () => {
      spec.given([registered.leaf]).when(poison('leaf')).thenError('FAILED_PRECONDITION');
    });
  });

  describe('invalidation', () => {
    const rootEventId = eventId('a poisoning of bg-leaf');
    const invalidate = (): DrvCommand => ({
      type: 'InvalidateResult',
      data: {
        drvPath: drv.app.drvPath,
        because: { drvPath: drv.leaf.drvPath, outputPath: drv.leaf.outputs.out, rootEventId },
      },
      metadata: meta(),
    });

    it('is recorded once per root event', () => {
      const [e] = spec.given(built('app')).when(invalidate()).thenTypes('ResultInvalidated');
      expect(e.data).toMatchObject({ serial: 0, attemptIds: ['a1'], outputPaths: [drv.app.outputs.out] });
      spec
        .given([...built('app'), e])
        .when(invalidate())
        .thenDuplicateOf(e);
    });

    it('with no valid result left is a no-op', () => {
      spec.given([registered.app]).when(invalidate()).thenNothing();
    });

    it('a later success that consumed the same poisoned output is invalidated by the same root, once', () => {
      const [first] = spec.given(built('app')).when(invalidate()).thenTypes('ResultInvalidated');
      const later = runCommands(drvDecider, [start('app', 'a2'), succeed('app', 'a2')], [...built('app'), first]);
      const [second] = spec.given(later).when(invalidate()).thenTypes('ResultInvalidated');
      expect(second.data).toMatchObject({ attemptIds: ['a2'] });
      expect(second.id).not.toBe(first.id);
      spec
        .given([...later, second])
        .when(invalidate())
        .thenDuplicateOf(second);
    });
  });

  describe('negative cache', () => {
    const clear: () => DrvCommand = () => ({
      type: 'ClearFailure',
      data: { drvPath: drv.leaf.drvPath, by: 'alice', reason: 'fixed the makefile' },
      metadata: meta(),
    });

    it('clearing a failure that is not cached (a transient one) is a no-op', () => {
      const events = runCommands(
        drvDecider,
        [
          start('leaf'),
          failWith('leaf', 'a1', 'TransientFailure', 'curl: (6) Could not resolve host: example.org'),
        ],
        [registered.leaf],
      );
      spec.given(events).when(clear()).thenNothing();
    });

    it('a success after a cached failure leaves nothing to clear', () => {
      const events = runCommands(
        drvDecider,
        [
          start('leaf'),
          failWith('leaf', 'a1', 'PermanentFailure', 'make: *** [all] Error 2', 2),
          start('leaf', 'a2'),
          succeed('leaf', 'a2'),
        ],
        [registered.leaf],
      );
      spec.given(events).when(clear()).thenNothing();
    });

    it('clearing a cached failure forgets it; clearing again is a no-op', () => {
      const events = runCommands(
        drvDecider,
        [start('leaf'), failWith('leaf', 'a1', 'PermanentFailure', 'make: *** [all] Error 2', 2)],
        [registered.leaf],
      );
      const [e] = spec.given(events).when(clear()).thenTypes('FailureCleared');
      expect(e.data).toMatchObject({ attemptId: 'a1', by: 'alice' });
      spec
        .given([...events, e])
        .when(clear())
        .thenNothing();
    });
  });

  describe('fixed-output verification', () => {
    const verify = (expectedHash: string, actualHash: string): DrvCommand => ({
      type: 'RecordFodVerification',
      data: {
        drvPath: drv.fetched.drvPath,
        attemptId: 'a1',
        farm: 'farm1',
        expectedHash,
        actualHash,
        inputsFingerprint: sha256Hex('unfixed twin'),
      },
      metadata: meta(),
    });

    it('records a verification with the hash as Nix prints it (SRI or nix32), normalised to base16', () => {
      const given = built('fetched');
      const [e] = spec
        .given(given)
        .when(verify(sri, `sha256:${nix32}`))
        .thenTypes('FodVerified');
      const hex = parseDerivation(drv.fetched.aterm).outputs.out.hash;
      expect(e.data).toMatchObject({ outputHash: { expected: `sha256:${hex}`, actual: `sha256:${hex}` } });
      spec
        .given([...given, e])
        .when(verify(sri, sri))
        .thenDuplicateOf(e);
    });

    it('flags a mismatch when the fetcher produced other content', () => {
      spec
        .given(built('fetched'))
        .when(verify(sri, `sha256:${sha256Hex('other content')}`))
        .thenTypes('FodMismatch');
    });

    it('refuses an expected hash that is not the one the derivation declares', () => {
      spec
        .given(built('fetched'))
        .when(verify(`sha256:${sha256Hex('x')}`, sri))
        .thenError('INVALID_ARGUMENT', /declares/);
    });

    it('is only for fixed-output derivations', () => {
      spec
        .given(built('leaf'))
        .when({
          ...verify(sri, sri),
          data: { ...(verify(sri, sri).data as object), drvPath: drv.leaf.drvPath },
        } as DrvCommand)
        .thenError('FAILED_PRECONDITION');
    });
  });
});

describe('bad commands', () => {
  it('an unknown command type is refused, not thrown', () => {
    const r = drvDecider.decide(
      { type: 'Explode', data: {}, metadata: meta() } as unknown as DrvCommand,
      drvDecider.initialState(),
    );
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });

  it('a missing field is refused with its name', () => {
    const r = drvDecider.decide(
      {
        type: 'StartAttempt',
        data: { attemptId: 'a1', farm: 'f', machine: 'm' },
        metadata: meta(),
      } as unknown as DrvCommand,
      drvDecider.initialState(),
    );
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', details: { field: 'data.drvPath' } },
    });
  });

  it('a malformed store path is refused with the field that holds it', () => {
    const r = drvDecider.decide(
      {
        type: 'ClearFailure',
        data: { drvPath: '/nix/store/not-a-hash-foo.drv', by: 'a', reason: 'b' },
        metadata: meta(),
      },
      drvDecider.initialState(),
    );
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', details: { field: 'data.drvPath' } },
    });
  });

  it('metadata without the time the command was received is refused', () => {
    const r = drvDecider.decide(
      { type: 'ClearFailure', data: {}, metadata: { commandId: 'c' } } as unknown as DrvCommand,
      drvDecider.initialState(),
    );
    expect(r.ok).toBe(false);
  });
});
