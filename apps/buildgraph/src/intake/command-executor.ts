import { Injectable, Logger } from '@nestjs/common';
import {
  COMMAND_DTOS,
  CommandName,
  errorReply,
  FailAttemptCommand,
  FodMismatchCommand,
  FodVerifiedCommand,
  okReply,
  Reply,
  ResolveAttemptCommand,
  StartAttemptCommand,
  SucceedAttemptCommand,
} from '@buildgraph/contracts';
import {
  CommandMetadata,
  decideDrv,
  decideGroup,
  DomainEvent,
  DrvCommand,
  DrvEvent,
  DrvState,
  drvStreamName,
  evolveDrv,
  evolveGroup,
  GroupEvent,
  GroupState,
  groupStreamName,
  initialDrvState,
  initialGroupState,
  registrationDrvPath,
} from '@buildgraph/domain';
import { isEventStoreError } from '@buildgraph/eventstore';
import { Derivation, NixError, parseDerivation, printDerivation, resolveDerivation } from '@buildgraph/nix';
import { LogStore } from '../logs/log-store';
import { DecisionRefused, Decide, StreamWriter, Written } from './stream-writer';

type Dto<N extends CommandName> = InstanceType<(typeof COMMAND_DTOS)[N]>;

/** A refusal raised while preparing a command (before any append); becomes the wire error. */
class Refused extends Error {
  constructor(readonly reply: Reply<object>) {
    super('refused');
  }
}

const evolveD = (s: DrvState, e: DomainEvent): DrvState => evolveDrv(s, e as DrvEvent);
const evolveG = (s: GroupState, e: DomainEvent): GroupState => evolveGroup(s, e as GroupEvent);

function decision(d: ReturnType<typeof decideDrv> | ReturnType<typeof decideGroup>): ReturnType<Decide<unknown>> {
  return d.ok ? { ok: true, events: d.value.events, duplicates: d.value.duplicateOf ? [d.value.duplicateOf] : [] } : { ok: false, error: d.error };
}

/** Registering `aterm` (on the stream of `claimed`, which the decider checks against the text). */
function registration(aterm: string, claimed: string | undefined, meta: CommandMetadata): Decide<DrvState> {
  const command: DrvCommand = { type: 'RegisterDerivation', data: claimed ? { aterm, drvPath: claimed } : { aterm }, metadata: meta };
  // the same text again is a repeat: skip re-parsing and re-hashing it on every attempt report
  return (state) => (state.registered?.data.aterm === aterm ? { ok: true, events: [], duplicates: [state.registered] } : decision(decideDrv(command, state)));
}

/**
 * Turns a validated wire command into domain commands on the right streams and writes them. The reply
 * comes after the append is durable and names the events and their positions (decimal strings).
 */
@Injectable()
export class CommandExecutor {
  private readonly log = new Logger('Intake');

  constructor(
    private readonly writer: StreamWriter,
    private readonly logs: LogStore,
  ) {}

  async execute(name: CommandName, dto: Dto<CommandName>, meta: CommandMetadata): Promise<Reply<object>> {
    try {
      const written: Written[] = [];
      const extra = await this.dispatch(name, dto, meta, written);
      const events = written.flatMap((w) => w.events);
      return okReply({ ...extra, events, positions: events.map((e) => e.position), repeat: written.every((w) => w.repeat) });
    } catch (e) {
      if (e instanceof Refused) return e.reply;
      if (e instanceof DecisionRefused) return errorReply(e.error.code, e.error.message, e.error.details);
      if (e instanceof NixError) return errorReply('INVALID_ARGUMENT', e.message, { nixCode: e.code, ...(e.details ?? {}) });
      if (isEventStoreError(e)) {
        const invalid = e.code.startsWith('INVALID');
        if (!invalid) this.log.error({ err: e }, `event store refused ${name}`);
        return errorReply(invalid ? 'INVALID_ARGUMENT' : e.code === 'WRONG_EXPECTED_REVISION' ? 'CONFLICT' : 'UNAVAILABLE', e.message, e.details);
      }
      throw e;
    }
  }

  private async dispatch(name: CommandName, dto: Dto<CommandName>, meta: CommandMetadata, out: Written[]): Promise<Record<string, unknown>> {
    switch (name) {
      case 'drv.register': {
        const { aterm, drvPath } = dto as Dto<'drv.register'>;
        out.push(await this.register(aterm, meta, drvPath));
        return { drvPath: await this.drvPathOf(aterm) };
      }
      case 'attempt.start': {
        const c = dto as StartAttemptCommand;
        const { aterm: _aterm, ...data } = c;
        const start: DrvCommand = { type: 'StartAttempt', data: { ...data }, metadata: meta };
        out.push(await this.writeDrv(c.drvPath, c.aterm, meta, (state) => decision(decideDrv(start, state))));
        return {};
      }
      case 'attempt.succeed': {
        const c = dto as SucceedAttemptCommand;
        const { aterm: _a, machine: _m, ...data } = c;
        out.push(await this.endAttempt(c, { type: 'SucceedAttempt', data: { ...data }, metadata: meta }, meta));
        return {};
      }
      case 'attempt.fail': {
        const c = dto as FailAttemptCommand;
        // stored (and fsynced) before the event that names it
        const log = await this.logs.put(c.log);
        const { aterm: _a, machine: _m, log: _l, ...data } = c;
        out.push(await this.endAttempt(c, { type: 'FailAttempt', data: { ...data, log }, metadata: meta }, meta));
        return {};
      }
      case 'attempt.resolve':
        return this.resolve(dto as ResolveAttemptCommand, meta, out);
      case 'drv.poison': {
        const c = dto as Dto<'drv.poison'>;
        out.push(await this.drv(c.drvPath, () => ({ type: 'PoisonResult', data: { drvPath: c.drvPath, reason: c.reason, cause: 'operator' }, metadata: meta })));
        return {};
      }
      case 'drv.clear-failure': {
        const c = dto as Dto<'drv.clear-failure'>;
        const by = meta.signer?.keyName ?? 'unknown';
        const clear: DrvCommand = { type: 'ClearFailure', data: { drvPath: c.drvPath, by, reason: c.reason }, metadata: meta };
        out.push(
          await this.writer.write(drvStreamName(c.drvPath), initialDrvState, evolveD, (state) => {
            const d = decision(decideDrv(clear, state));
            // a retry after the failure is gone answers with the clearing this same command recorded
            const mine = state.lastCleared?.metadata.causationId === meta.commandId ? state.lastCleared : null;
            return d.ok && d.events.length === 0 && mine ? { ...d, duplicates: [mine] } : d;
          }),
        );
        return {};
      }
      case 'group.open': {
        const c = dto as Dto<'group.open'>;
        const members = c.members.map((m) => ({ drvPath: m.drvPath, ...(m.machine !== undefined ? { machine: m.machine } : {}) }));
        const stream = groupStreamName(c.groupId);
        out.push(
          await this.writer.write(stream, initialGroupState, evolveG, (state) =>
            decision(decideGroup({ type: 'OpenGroup', data: { groupId: c.groupId, members, deadline: c.deadline }, metadata: meta }, state)),
          ),
        );
        return {};
      }
      case 'fod.verified':
      case 'fod.mismatch': {
        const c = dto as FodVerifiedCommand & Partial<FodMismatchCommand>;
        const actualHash = name === 'fod.verified' ? c.expectedHash : (c.actualHash as string);
        const data = { drvPath: c.drvPath, attemptId: c.attemptId, farm: c.farm, expectedHash: c.expectedHash, actualHash, inputsFingerprint: c.inputsFingerprint };
        out.push(await this.drv(c.drvPath, () => ({ type: 'RecordFodVerification', data, metadata: meta })));
        return {};
      }
    }
  }

  private drv(drvPath: string, command: (state: DrvState) => DrvCommand): Promise<Written> {
    return this.writer.write(drvStreamName(drvPath), initialDrvState, evolveD, (state) => decision(decideDrv(command(state), state)));
  }

  /**
   * An end report for an attempt the service never heard start (a post-build hook knows only the end)
   * records the start too, in the same append, so the two cannot be separated by a crash.
   */
  private endAttempt(c: { drvPath: string; attemptId: string; farm: string; machine: string; aterm?: string }, end: DrvCommand, meta: CommandMetadata): Promise<Written> {
    return this.writeDrv(c.drvPath, c.aterm, meta, (state) => {
      const known = state.attempts[c.attemptId];
      if (state.registered === null || known) {
        const ended = decision(decideDrv(end, state));
        // the retry of a report that also recorded the start answers with both events, as the first time
        if (ended.ok && ended.events.length === 0 && known?.started.metadata.causationId === meta.commandId) {
          return { ...ended, duplicates: [known.started, ...(ended.duplicates ?? [])] };
        }
        return ended;
      }
      const start = decideDrv({ type: 'StartAttempt', data: { drvPath: c.drvPath, attemptId: c.attemptId, farm: c.farm, machine: c.machine }, metadata: meta }, state);
      if (!start.ok) return decision(start);
      const after = start.value.events.reduce(evolveD, state);
      const ended = decideDrv(end, after);
      if (!ended.ok) return decision(ended);
      return { ok: true, events: [...start.value.events, ...ended.value.events] };
    });
  }

  private async drvPathOf(aterm: string): Promise<string> {
    const path = registrationDrvPath(aterm);
    if (!path.ok) throw new DecisionRefused(path.error);
    return path.value;
  }

  /** Registers an ATerm on the stream of `claimed` (checked against the text by the decider) or of the path it hashes to. */
  private async register(aterm: string, meta: CommandMetadata, claimed?: string): Promise<Written> {
    const drvPath = claimed ?? (await this.drvPathOf(aterm));
    return this.writer.write(drvStreamName(drvPath), initialDrvState, evolveD, registration(aterm, claimed, meta));
  }

  /** An attempt may carry its drv's ATerm; it must be the ATerm of the drvPath it reports for. */
  private async registerIfGiven(aterm: string | undefined, drvPath: string, meta: CommandMetadata, out: Written[]): Promise<void> {
    if (aterm !== undefined) out.push(await this.register(aterm, meta, drvPath));
  }

  /**
   * A decision on a drv's stream, preceded by the registration of `aterm` when the command carries
   * one: both are decided on one read of the stream and go in one append, so a report that registers
   * its drv costs one round trip to the store and a crash cannot keep one half of it.
   */
  private writeDrv(drvPath: string, aterm: string | undefined, meta: CommandMetadata, decide: Decide<DrvState>): Promise<Written> {
    if (aterm === undefined) return this.writer.write(drvStreamName(drvPath), initialDrvState, evolveD, decide);
    const register = registration(aterm, drvPath, meta);
    return this.writer.write(drvStreamName(drvPath), initialDrvState, evolveD, (state) => {
      const registered = register(state);
      if (!registered.ok) return registered;
      const next = decide(registered.events.reduce(evolveD, state));
      if (!next.ok) return next;
      return { ok: true, events: [...registered.events, ...next.events], duplicates: [...(registered.duplicates ?? []), ...(next.duplicates ?? [])] };
    });
  }

  private async registered(drvPath: string): Promise<{ drv: Derivation; state: DrvState } | undefined> {
    const loaded = await this.writer.load(drvStreamName(drvPath), initialDrvState, evolveD);
    const r = loaded.state.registered;
    return r ? { drv: parseDerivation(r.data.aterm), state: loaded.state } : undefined;
  }

  /** Resolution needs the drv and its direct input drvs registered; the resolved drv is registered too. */
  private async resolve(c: ResolveAttemptCommand, meta: CommandMetadata, out: Written[]): Promise<Record<string, unknown>> {
    await this.registerIfGiven(c.aterm, c.drvPath, meta, out);
    const self = await this.registered(c.drvPath);
    if (!self) throw new Refused(errorReply('NOT_FOUND', `derivation ${c.drvPath} is not registered; send drv.register or include its aterm`, { drvPath: c.drvPath }));
    const inputs = new Map<string, Derivation>();
    const missing: string[] = [];
    for (const input of Object.keys(self.drv.inputDrvs)) {
      const r = await this.registered(input);
      if (r) inputs.set(input, r.drv);
      else missing.push(input);
    }
    if (missing.length > 0) {
      throw new Refused(errorReply('NOT_FOUND', `input derivations are not registered: ${missing.join(', ')}`, { missing }));
    }
    const lookup = (p: string): Derivation => {
      const d = inputs.get(p);
      if (!d) throw new NixError('NOT_A_DERIVATION', `input derivation ${p} is not registered`, { drvPath: p });
      return d;
    };
    const resolved = resolveDerivation(self.drv, c.inputRealisations, lookup);
    const command: DrvCommand = {
      type: 'ResolveAttempt',
      data: { drvPath: c.drvPath, attemptId: c.attemptId, farm: c.farm, resolvedDrvPath: resolved.drvPath, inputRealisations: c.inputRealisations },
      metadata: meta,
    };
    // a resolution the decider would refuse (attempt unknown, another farm's, resolved differently)
    // must not leave the resolved drv registered behind: ask it first
    const dryRun = decideDrv(command, self.state);
    if (!dryRun.ok) throw new DecisionRefused(dryRun.error);
    out.push(await this.register(printDerivation(resolved.drv), meta));
    out.push(await this.drv(c.drvPath, () => command));
    return { resolvedDrvPath: resolved.drvPath };
  }
}
