/**
 * The history generator: deterministic, accepted by the domain's validation (every .drv text hashes to
 * its drvPath), and shaped like nixpkgs (deep, a stdenv-like root under nearly everything, power-law fan-in).
 */
import { createHash } from 'node:crypto';
import { registrationDrvPath, validateEvent, type DerivationRegistered } from '@buildgraph/domain';
import { historyEvents } from '../support/history';

const { events, facts } = historyEvents({ seed: 7, drvs: 1500 });

describe('history generator', () => {
  it('the same seed gives the same events, byte for byte; another seed does not', () => {
    const digest = (evs: typeof events) => createHash('sha256').update(JSON.stringify(evs)).digest('hex');
    expect(digest(historyEvents({ seed: 7, drvs: 1500 }).events)).toBe(digest(events));
    expect(digest(historyEvents({ seed: 8, drvs: 1500 }).events)).not.toBe(digest(events));
  });

  it('every event passes the domain validation, and every registered ATerm hashes to its drvPath', () => {
    const problems: string[] = [];
    for (const { event } of events) {
      const v = validateEvent(event);
      if (!v.ok) problems.push(`${event.type}: ${v.error.message}`);
      if (event.type === 'DerivationRegistered') {
        const p = registrationDrvPath(event.data.aterm);
        if (!p.ok || p.value !== event.data.drvPath)
          problems.push(`${event.data.drvPath}: ATerm hashes elsewhere`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has farms, successes, transient and permanent failures, CA resolutions, groups and poisonings', () => {
    for (const type of [
      'AttemptSucceeded',
      'AttemptFailed',
      'AttemptResolved',
      'GroupOpened',
      'GroupFailed',
      'ResultPoisoned',
      'FailureCleared',
      'FodVerified',
    ]) {
      expect(facts.byType[type]).toBeGreaterThan(0);
    }
    const failures = events.flatMap(({ event }) => (event.type === 'AttemptFailed' ? [event.data] : []));
    expect(failures.some((f) => f.cache === 'retry')).toBe(true);
    expect(failures.some((f) => f.status === 'PermanentFailure')).toBe(true);
    const farms = new Set(
      events.flatMap(({ event }) => (event.type === 'AttemptStarted' ? [event.data.farm] : [])),
    );
    expect(farms.size).toBe(3);
  });

  it('is nixpkgs-shaped: ~30 levels deep, the stdenv under nearly everything, a few hubs with large fan-in', () => {
    const inputs = new Map<string, string[]>();
    for (const { event } of events)
      if (event.type === 'DerivationRegistered')
        inputs.set(event.data.drvPath, Object.keys((event as DerivationRegistered).data.inputDrvs));
    const depth = new Map<string, number>();
    const below = new Map<string, boolean>();
    for (const [drv, ins] of inputs) {
      depth.set(drv, 1 + Math.max(0, ...ins.map((i) => depth.get(i) ?? 0)));
      below.set(drv, drv === facts.stdenv || ins.some((i) => below.get(i)));
    }
    const maxDepth = Math.max(...depth.values());
    expect(maxDepth).toBeGreaterThanOrEqual(25);
    expect(maxDepth).toBeLessThanOrEqual(40);
    const reached = [...below.values()].filter(Boolean).length;
    expect(reached / inputs.size).toBeGreaterThan(0.85);
    const fanIn = new Map<string, number>();
    for (const ins of inputs.values()) for (const i of ins) fanIn.set(i, (fanIn.get(i) ?? 0) + 1);
    const sorted = [...fanIn.values()].sort((a, b) => b - a);
    // power law: the top 1% of inputs carry far more edges than the median input
    const top = sorted.slice(0, Math.ceil(sorted.length / 100));
    expect(top[top.length - 1]).toBeGreaterThan(10 * sorted[Math.floor(sorted.length / 2)]);
  });
});
