/**
 * Multi-machine groups: the group-outcome read model and the group policy, on a real event store.
 * The first member failure fails the group and poisons the members that had succeeded; all members
 * valid succeeds it; a missed deadline fails it.
 */
import { fromStored, type DomainEvent } from '@buildgraph/domain';
import { GroupPolicy, drvState, group } from '@buildgraph/projections';
import { Farm } from './support';
import { openLive, type Live } from './live';

async function logOf(live: Live, type: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for await (const batch of live.store.readAll({ filter: { eventTypes: [type] } }))
    for (const r of batch) out.push(fromStored(r));
  return out;
}

describe('group outcome and group policy', () => {
  let live: Live;
  beforeEach(async () => {
    live = await openLive();
  });
  afterEach(async () => {
    await live.close();
  });

  it('all members succeeding succeeds the group, per member', async () => {
    const farm = new Farm();
    const [a, b] = [farm.drv('part-a'), farm.drv('part-b')];
    farm.groupOpened('g1', [a, b], 3600_000);
    const { runner, rs } = live.runner('replica', [new GroupPolicy()]);
    await runner.start();
    await live.append(farm.log);
    farm.log.length = 0;
    farm.started(a, 'a1', { groupId: 'g1', machine: 'm1' });
    farm.succeeded(a, 'a1');
    await live.append(farm.log);
    await live.settle();
    expect(group(rs, 'g1')).toMatchObject({
      status: 'open',
      members: [
        { drvPath: a.drvPath, state: 'succeeded', attemptId: 'a1' },
        { drvPath: b.drvPath, state: 'pending' },
      ],
    });
    farm.log.length = 0;
    farm.started(b, 'b1', { groupId: 'g1', machine: 'm2' });
    farm.succeeded(b, 'b1');
    await live.append(farm.log);
    await live.settle();
    expect(group(rs, 'g1')?.status).toBe('succeeded');
    expect(await logOf(live, 'GroupSucceeded')).toHaveLength(1);
  });

  it('the first member failure fails the group and poisons the member that had succeeded', async () => {
    const farm = new Farm();
    const [a, b, c] = [farm.drv('part-a'), farm.drv('part-b'), farm.drv('part-c')];
    farm.groupOpened('g2', [a, b, c], 3600_000);
    farm.started(a, 'a1', { groupId: 'g2' });
    farm.succeeded(a, 'a1');
    farm.started(b, 'b1', { groupId: 'g2' });
    farm.failed(b, 'b1', { status: 'MiscFailure', cause: 'oom', cache: 'retry' });
    farm.started(c, 'c1', { groupId: 'g2' });
    farm.failed(c, 'c1', { status: 'PermanentFailure', cause: 'builder', cache: 'cache' });
    const replicas = [live.runner('r1', [new GroupPolicy()]), live.runner('r2', [new GroupPolicy()])];
    for (const r of replicas) await r.runner.start();
    await live.append(farm.log);
    await live.settle();
    const rs = replicas[0].rs;
    expect(group(rs, 'g2')).toMatchObject({
      status: 'failed',
      failure: {
        reason: 'member-failed',
        member: { drvPath: b.drvPath, attemptId: 'b1' },
        succeeded: [{ drvPath: a.drvPath, attemptId: 'a1' }],
      },
    });
    expect(drvState(rs, a.drvPath)).toMatchObject({
      status: 'poisoned',
      serial: 1,
      poisoned: { cause: 'group-failure' },
    });
    expect(await logOf(live, 'GroupFailed')).toHaveLength(1);
    expect(await logOf(live, 'ResultPoisoned')).toHaveLength(1);
    expect(replicas[1].rs.digests()).toEqual(rs.digests());
  });

  it('a member that succeeds after the group failed is poisoned too', async () => {
    const farm = new Farm();
    const [a, b] = [farm.drv('part-a'), farm.drv('part-b')];
    farm.groupOpened('g4', [a, b], 3600_000);
    farm.started(a, 'a1', { groupId: 'g4' });
    farm.started(b, 'b1', { groupId: 'g4' });
    farm.failed(b, 'b1', { status: 'PermanentFailure', cause: 'builder', cache: 'cache' });
    farm.succeeded(a, 'a1');
    const { runner, rs } = live.runner('replica', [new GroupPolicy()]);
    await runner.start();
    await live.append(farm.log);
    await live.settle();
    expect(group(rs, 'g4')).toMatchObject({ status: 'failed', failure: { succeeded: [] } });
    expect(drvState(rs, a.drvPath)).toMatchObject({
      status: 'poisoned',
      poisoned: { cause: 'group-failure' },
    });
  });

  it('a missed deadline fails the group', async () => {
    const farm = new Farm();
    const [a, b] = [farm.drv('part-a'), farm.drv('part-b')];
    farm.groupOpened('g3', [a, b], 3600_000);
    farm.started(a, 'a1', { groupId: 'g3' });
    farm.succeeded(a, 'a1');
    let now = farm.now();
    const { runner, rs } = live.runner('replica', [new GroupPolicy()], () => now);
    await runner.start();
    await live.append(farm.log);
    await live.settle();
    await runner.tick();
    expect(group(rs, 'g3')?.status).toBe('open');
    now = new Date(now.getTime() + 2 * 3600_000);
    await runner.tick();
    await live.settle();
    expect(group(rs, 'g3')).toMatchObject({ status: 'failed', failure: { reason: 'deadline' } });
    expect(drvState(rs, a.drvPath)?.status).toBe('poisoned');
  });
});
