import { Inject, Injectable } from '@nestjs/common';
import { errorReply, okReply, Reply } from '@buildgraph/contracts';
import { DrvEvent, DrvState, evolveDrv, fromStored, initialDrvState, validAttempts } from '@buildgraph/domain';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import { wireEvent, wireEventWithoutBody } from './wire-event';

const HASH_PART = /^[0-9a-df-np-sv-z]{32}$/;

export type DrvStatus = 'unknown' | 'building' | 'valid' | 'failed' | 'poisoned' | 'invalidated';

export { wireEvent };

/** What a drv's state looks like to a client; folded from its own stream until libs/projections serves it. */
export function drvSummary(state: DrvState): Record<string, unknown> {
  const attempts = Object.values(state.attempts);
  const valid = validAttempts(state);
  let status: DrvStatus = 'unknown';
  if (valid.length > 0) status = 'valid';
  else if (state.cachedFailure) status = 'failed';
  else if (attempts.some((a) => !a.ended)) status = 'building';
  else if (attempts.some((a) => a.invalidatedBy)) status = 'invalidated';
  else if (attempts.some((a) => a.poisonedBy)) status = 'poisoned';
  const r = state.registered?.data;
  return {
    drvPath: r?.drvPath ?? null,
    registered: r !== undefined,
    name: r?.name ?? null,
    system: r?.system ?? null,
    status,
    serial: state.serial,
    validOutputs: valid.map((a) => (a.ended?.type === 'AttemptSucceeded' ? a.ended.data.outputs : {})),
    cachedFailure: state.cachedFailure
      ? { attemptId: state.cachedFailure.data.attemptId, status: state.cachedFailure.data.status, cause: state.cachedFailure.data.cause, log: state.cachedFailure.data.log }
      : null,
    attempts: attempts.map((a) => ({
      attemptId: a.started.data.attemptId,
      farm: a.started.data.farm,
      machine: a.started.data.machine,
      startedAt: a.started.data.startedAt,
      outcome: a.ended?.type ?? null,
      resolvedDrvPath: a.resolved?.data.resolvedDrvPath ?? null,
      poisoned: a.poisonedBy !== undefined,
      invalidated: a.invalidatedBy !== undefined,
    })),
    farms: [...new Set(attempts.map((a) => a.started.data.farm))].sort(),
  };
}

@Injectable()
export class QueryService {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  private badHashPart(hashPart: string): Reply<object> | undefined {
    return HASH_PART.test(hashPart)
      ? undefined
      : errorReply('INVALID_ARGUMENT', 'hashPart must be the 32 nix-base32 characters of a .drv store path', { field: 'hashPart' });
  }

  async drv(hashPart: string): Promise<Reply<object>> {
    const bad = this.badHashPart(hashPart);
    if (bad) return bad;
    const recorded = await this.store.readStream(`drv-${hashPart}`);
    if (recorded.length === 0) return errorReply('NOT_FOUND', `no events for drv ${hashPart}`, { hashPart });
    const state = recorded.map(fromStored).reduce((s, e) => evolveDrv(s, e as DrvEvent), initialDrvState());
    return okReply({ hashPart, position: recorded[recorded.length - 1].position.toString(), ...drvSummary(state) });
  }

  async history(hashPart: string): Promise<Reply<object>> {
    const bad = this.badHashPart(hashPart);
    if (bad) return bad;
    const recorded = await this.store.readStream(`drv-${hashPart}`);
    if (recorded.length === 0) return errorReply('NOT_FOUND', `no events for drv ${hashPart}`, { hashPart });
    // without the signed bodies: a few failures with big logs would not fit a NATS reply (the audit export has them)
    return okReply({ hashPart, events: recorded.map(wireEventWithoutBody) });
  }
}
