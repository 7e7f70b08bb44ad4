/** Events are validated at the edge of the domain, both when decided and when read back (with upcasting). */
import { makeTextPath, sha256Hex } from '@buildgraph/nix';
import { drvDecider } from '../drv/decide';
import { FailAttempt } from '../drv/commands';
import { DomainException } from '../result';
import { eventId } from '../ids';
import { runCommands } from '../testing/given';
import { fromStored, parseEvent, parseStored, toStored } from './parse';
import { AttemptFailed, DerivationRegistered, DomainEvent } from './types';
import { drvStreamName, groupStreamName, parseStreamName } from '../streams';

const drvPath = makeTextPath('hello.drv', sha256Hex('hello'), []);
const meta = { schemaVersion: 1, correlationId: 'c1', causationId: 'c1', recordedAt: '2026-01-01T10:00:00Z' };
const started = { drvPath, attemptId: 'a1', farm: 'farm1', machine: 'm1', startedAt: '2026-01-01T10:00:00Z' };

describe('reading and validating events', () => {
  it('an unknown event type is refused', () => {
    expect(parseEvent('AttemptExploded', {}, meta)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', details: { field: 'type' } },
    });
  });

  it('a missing field is refused with its name', () => {
    const { farm: _farm, ...noFarm } = started;
    const r = parseEvent('AttemptStarted', noFarm, meta);
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', details: { field: 'data.farm' } },
    });
    expect(!r.ok && r.error.message).toMatch(/data\.farm.*required/);
  });

  it('an unknown field is refused with its name', () => {
    expect(parseEvent('AttemptStarted', { ...started, colour: 'red' }, meta)).toMatchObject({
      ok: false,
      error: { details: { field: 'data.colour' } },
    });
  });

  it('a malformed store path is refused', () => {
    const bad = drvPath.replace('/nix/store/', '/nix/store/E');
    expect(parseEvent('AttemptStarted', { ...started, drvPath: bad }, meta)).toMatchObject({
      ok: false,
      error: { details: { field: 'data.drvPath' } },
    });
  });

  it('a time that is not ISO 8601 UTC is refused', () => {
    expect(parseEvent('AttemptStarted', { ...started, startedAt: 'yesterday' }, meta)).toMatchObject({
      ok: false,
      error: { details: { field: 'data.startedAt' } },
    });
  });

  it('a schema version from the future is refused rather than misread', () => {
    expect(parseEvent('AttemptStarted', started, { ...meta, schemaVersion: 9 })).toMatchObject({
      ok: false,
      error: { details: { field: 'metadata.schemaVersion' } },
    });
  });

  it('an AttemptFailed written at version 1 (before the cache decision existed) is upcast on read', () => {
    const v1 = {
      drvPath,
      attemptId: 'a1',
      status: 'TimedOut',
      cause: 'timeout',
      transient: false,
      log: { sha256: sha256Hex(''), bytes: 0, tail: '' },
      finishedAt: '2026-01-01T11:00:00Z',
    };
    const r = parseEvent('AttemptFailed', v1, meta);
    expect(r).toMatchObject({
      ok: true,
      value: { data: { ...v1, cache: 'none' }, metadata: { schemaVersion: 2 } },
    });
    const transient = parseEvent(
      'AttemptFailed',
      { ...v1, status: 'MiscFailure', cause: 'network', transient: true },
      meta,
    );
    expect(transient.ok && (transient.value.data as AttemptFailed['data']).cache).toBe('retry');
  });

  it('a version-2 AttemptFailed whose transient flag contradicts its cache decision is refused', () => {
    const v2 = {
      drvPath,
      attemptId: 'a1',
      status: 'PermanentFailure',
      cause: 'builder',
      transient: true,
      cache: 'cache',
      log: { sha256: sha256Hex(''), bytes: 0, tail: '' },
      finishedAt: '2026-01-01T11:00:00Z',
    };
    expect(parseEvent('AttemptFailed', v2, { ...meta, schemaVersion: 2 })).toMatchObject({
      ok: false,
      error: { details: { field: 'data.transient' } },
    });
  });
});

describe('mapping to and from the event store', () => {
  const registered: DerivationRegistered = {
    id: eventId('registration'),
    type: 'DerivationRegistered',
    data: {
      drvPath,
      name: 'hello',
      system: 'x86_64-linux',
      outputs: { out: { path: '', hashAlgo: 'r:sha256', hash: '' } },
      inputDrvs: {},
      inputSrcs: [],
      aterm: 'Derive(...)',
    },
    metadata: meta,
  };
  const failedCommand: FailAttempt = {
    type: 'FailAttempt',
    data: {
      drvPath,
      attemptId: 'a1',
      farm: 'farm1',
      status: 'PermanentFailure',
      exitCode: 2,
      log: { sha256: sha256Hex('x'), bytes: 1, tail: 'x' },
    },
    metadata: { commandId: 'cmd-3', recordedAt: '2026-01-01T10:05:00Z' },
  };

  it('what a decider produced survives the round trip through stored form unchanged', () => {
    const events = runCommands(
      drvDecider,
      [
        {
          type: 'StartAttempt',
          data: { drvPath, attemptId: 'a1', farm: 'farm1', machine: 'm1' },
          metadata: { commandId: 'cmd-2', recordedAt: '2026-01-01T10:00:00Z' },
        },
        failedCommand,
      ],
      [registered],
    );
    for (const event of events)
      expect(fromStored(JSON.parse(JSON.stringify(toStored(event))))).toEqual(event);
  });

  it('a corrupt stored event throws a DomainException with a code, naming the event', () => {
    const stored = toStored(registered);
    const corrupt = { ...stored, data: { ...stored.data, drvPath: 'hello' } };
    expect(() => fromStored(corrupt)).toThrow(DomainException);
    expect(parseStored(corrupt)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', details: { field: 'data.drvPath' } },
    });
  });

  it('a stored event without a UUID id is refused', () => {
    expect(parseStored({ ...toStored(registered), id: 'not-a-uuid' } as never)).toMatchObject({
      ok: false,
      error: { details: { field: 'id' } },
    });
  });

  it('events carry the correlation and causation of the command that produced them', () => {
    const events = runCommands(
      drvDecider,
      [
        {
          type: 'StartAttempt',
          data: { drvPath, attemptId: 'a1', farm: 'farm1', machine: 'm1' },
          metadata: { commandId: 'cmd-9', correlationId: 'build-7', recordedAt: '2026-01-01T10:00:00Z' },
        },
      ],
      [registered],
    );
    expect((events[1] as DomainEvent).metadata).toEqual({
      schemaVersion: 1,
      correlationId: 'build-7',
      causationId: 'cmd-9',
      recordedAt: '2026-01-01T10:00:00Z',
    });
  });
});

describe('stream names', () => {
  it('a drv stream is named by the hash part of its .drv path, and parses back', () => {
    const name = drvStreamName(drvPath);
    expect(name).toBe(`drv-${drvPath.slice('/nix/store/'.length, '/nix/store/'.length + 32)}`);
    expect(parseStreamName(name)).toEqual({ kind: 'drv', hashPart: drvPath.slice(11, 43) });
  });

  it('a group stream is named by its groupId, and parses back', () => {
    expect(parseStreamName(groupStreamName('release-42'))).toEqual({ kind: 'group', groupId: 'release-42' });
  });

  it('refuses what is not a .drv path or a valid groupId, with a code', () => {
    expect(() => drvStreamName('/nix/store/short-hello.drv')).toThrow(DomainException);
    expect(() => drvStreamName(makeTextPath('hello', sha256Hex('x'), []))).toThrow(/not a \.drv/);
    expect(() => groupStreamName('a/b')).toThrow(DomainException);
    expect(parseStreamName('other-stream')).toBeNull();
    expect(parseStreamName('drv-tooshort')).toBeNull();
  });
});
