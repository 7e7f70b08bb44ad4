/**
 * The id rules agree across the layers (docs/contracts.md "Ids"): libs/contracts (the wire), libs/domain
 * (the deciders) and libs/eventstore (stream names) accept and refuse the same ids, so an id is never
 * accepted at the edge and refused late. One table of examples, a property over arbitrary strings, and
 * a real nats-server showing each accepted groupId is one subject token.
 */
import { eventSubject, ID_RULES, parseCommand } from '@buildgraph/contracts';
import { DRV_COMMAND_SCHEMAS } from '@buildgraph/domain/drv/commands';
import { GROUP_COMMAND_SCHEMAS } from '@buildgraph/domain/group/decide';
import * as check from '@buildgraph/domain/check';
import { groupStream, isValidStreamName } from '@buildgraph/eventstore';
import fc from 'fast-check';
import { connect } from 'nats';
import { describeWith } from '../support/env';
import { startNatsServer } from '../support/nats';

type Kind = keyof typeof ID_RULES;
const KINDS: Kind[] = ['attemptId', 'groupId', 'farm', 'machine'];

const domainCheck: Record<Kind, check.Check<string>> = { attemptId: check.attemptId, groupId: check.groupId, farm: check.farm, machine: check.machine };

/** What each layer says about `value` as a `kind` id. */
function verdicts(kind: Kind, value: string): { contracts: boolean; domain: boolean; eventstore?: boolean } {
  const contracts = ID_RULES[kind].pattern.test(value);
  const domain = domainCheck[kind](value, kind).ok;
  if (kind !== 'groupId') return { contracts, domain };
  let eventstore = true;
  try {
    groupStream(value);
  } catch {
    eventstore = false;
  }
  return { contracts, domain, eventstore };
}

/** The examples, with the kinds each is valid for (the rules in docs/contracts.md). */
const TABLE: [string, Kind[]][] = [
  ['release-42', ['attemptId', 'groupId', 'farm', 'machine']],
  ['3f2b0c1e-8a4d-4e8a-9c1f-2b7d9e0a1c55', ['attemptId', 'groupId', 'farm', 'machine']],
  ['hydra_eval_123', ['attemptId', 'groupId', 'farm', 'machine']],
  ['builder-1.example.org', ['machine']],
  ['nix@builder-1.example.org', ['machine']],
  ['builder-1:22', ['attemptId', 'machine']],
  ['job:7@farm1', ['attemptId', 'machine']],
  ['hydra.eval', ['machine']],
  ['_private', ['attemptId', 'machine']],
  ['-leading-dash', ['attemptId', 'machine']],
  ['.', ['machine']],
  ['a'.repeat(120), ['attemptId', 'groupId', 'farm', 'machine']],
  ['a'.repeat(121), ['attemptId', 'machine']],
  ['a'.repeat(128), ['attemptId', 'machine']],
  ['a'.repeat(129), []],
  ['', []],
  ['a.*', []],
  ['a>', []],
  ['two words', []],
  ['a/b', []],
  ['tab\there', []],
  ['ünïcode', []],
  ['line\nbreak', []],
];

describe('ids are accepted and refused alike by contracts, domain and eventstore', () => {
  it.each(TABLE)('%j is valid exactly as %j', (value, validAs) => {
    for (const kind of KINDS) {
      const expected = validAs.includes(kind);
      const v = verdicts(kind, value);
      expect({ kind, ...v }).toEqual({ kind, contracts: expected, domain: expected, ...(kind === 'groupId' ? { eventstore: expected } : {}) });
    }
  });

  it('for any string, the three layers agree on every kind of id', () => {
    const idish = fc.string({ unit: fc.constantFrom(...'aZ09_-.:@/*> \t'.split('')), maxLength: 130 });
    fc.assert(
      fc.property(fc.oneof(idish, fc.string({ maxLength: 130 })), (value) => {
        for (const kind of KINDS) {
          const v = verdicts(kind, value);
          if (v.domain !== v.contracts || (v.eventstore !== undefined && v.eventstore !== v.contracts)) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('an accepted groupId makes a valid stream name and one subject token; an accepted machine has no separator in it', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'aZ09_-.:@/*> '.split('')), minLength: 1, maxLength: 130 }), (value) => {
        if (verdicts('groupId', value).domain) {
          if (!isValidStreamName(`group-${value}`) || /[.*>\s]/.test(value)) return false;
        }
        if (verdicts('machine', value).domain && /[/\s]/.test(value)) return false;
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('commands use the id rules at the wire and in the domain alike', () => {
  const drvPath = '/nix/store/0c8v6gqrb4y1lbdl0k3m3n0k6hw4xs9z-hello-2.12.1.drv';
  const startedAt = '2024-01-31T12:00:00Z';

  it.each(TABLE)('%j as machine, farm and groupId of attempt.start and group.open', (value, validAs) => {
    const start = (f: Kind): Record<string, unknown> => ({ attemptId: 'a-1', drvPath, farm: 'farm1', machine: 'm1', groupId: 'g1', [f]: value });
    for (const f of ['machine', 'farm', 'groupId'] as const) {
      const wire = parseCommand('attempt.start', JSON.stringify(start(f))).ok;
      const domain = DRV_COMMAND_SCHEMAS.StartAttempt({ ...start(f), startedAt }, 'data').ok;
      expect({ field: f, wire, domain }).toEqual({ field: f, wire: validAs.includes(f), domain: validAs.includes(f) });
    }
    const open = { groupId: value, members: [{ drvPath, machine: value }], deadline: startedAt };
    const wire = parseCommand('group.open', JSON.stringify(open)).ok;
    const domain = GROUP_COMMAND_SCHEMAS.OpenGroup(open, 'data').ok;
    const expected = validAs.includes('groupId') && validAs.includes('machine');
    expect({ wire, domain }).toEqual({ wire: expected, domain: expected });
  });
});

describeWith(['nats-server'], 'groupIds on a real NATS bus', () => {
  it('a notification for every accepted groupId arrives on buildgraph.v1.events.GroupOpened.* with the id as its last token', async () => {
    const server = await startNatsServer({ jetstream: false });
    const nc = await connect({ servers: server.url });
    try {
      const accepted = TABLE.filter(([, kinds]) => kinds.includes('groupId')).map(([v]) => v);
      const got: string[] = [];
      const sub = nc.subscribe(eventSubject('GroupOpened', '*'), { max: accepted.length, callback: (_e, m) => got.push(m.subject) });
      for (const id of accepted) nc.publish(eventSubject('GroupOpened', id));
      await sub.closed;
      expect(got.map((s) => s.split('.').slice(4).join('.'))).toEqual(accepted);
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
