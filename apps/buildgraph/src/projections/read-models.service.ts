import { Inject, Injectable } from '@nestjs/common';
import { errorReply, okReply, Reply } from '@buildgraph/contracts';
import { EVENT_STORE, EventStore } from '@buildgraph/eventstore';
import { attemptTrace, downstream, fodsDue, group, incoherence, ProjectionError, shouldBuild } from '@buildgraph/projections';
import { DEFAULT_NEGATIVE_CACHE, NegativeCacheConfig } from '@buildgraph/domain';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { ProjectionsService } from './projections.service';

const HASH_PART = /^[0-9a-df-np-sv-z]{32}$/;
const ID = /^[A-Za-z0-9_\-:@]{1,128}$/;
/** hash parts whose drvPath is remembered; a registration never changes, so the cache is never stale */
const DRV_PATHS_CACHED = 100_000;

/** Queries over the read models; every answer carries the position the read models are at. */
@Injectable()
export class ReadModelsService {
  private readonly negativeCache: NegativeCacheConfig;
  /** hashPart -> drvPath of registered derivations (insertion order: the oldest is dropped first) */
  private readonly drvPaths = new Map<string, string>();
  private positionThisTurn: bigint | undefined;

  constructor(
    private readonly projections: ProjectionsService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
  ) {
    this.negativeCache = { ...DEFAULT_NEGATIVE_CACHE, failureTtlMs: config.BUILDGRAPH_FAILURE_TTL_SECONDS * 1000 };
  }

  /**
   * The read models' committed position, read at most once per turn of the event loop: the queries
   * answered in one turn share it (a position read earlier can only understate what an answer includes).
   */
  private position(): bigint {
    if (this.positionThisTurn === undefined) {
      this.positionThisTurn = this.projections.position;
      setImmediate(() => (this.positionThisTurn = undefined));
    }
    return this.positionThisTurn;
  }

  /** `at`: the read models' position read before the answer, so it never overstates what the answer includes. */
  private answer(at: bigint, body: object): Reply<object> {
    return okReply({ ...body, readModelPosition: at.toString() });
  }

  /** The drvPath of a hash part, from the first event of its stream (its registration). */
  private async drvPathOf(hashPart: unknown): Promise<{ ok: true; drvPath: string } | { ok: false; reply: Reply<object> }> {
    if (typeof hashPart !== 'string' || !HASH_PART.test(hashPart)) {
      return { ok: false, reply: errorReply('INVALID_ARGUMENT', 'hashPart must be the 32 nix-base32 characters of a .drv store path', { field: 'hashPart' }) };
    }
    const cached = this.drvPaths.get(hashPart);
    if (cached !== undefined) return { ok: true, drvPath: cached };
    const [first] = await this.store.readStream(`drv-${hashPart}`, { maxCount: 1 });
    const drvPath = (first?.data as { drvPath?: unknown } | undefined)?.drvPath;
    if (typeof drvPath !== 'string') return { ok: false, reply: errorReply('NOT_FOUND', `no derivation registered with hash part ${hashPart}`, { hashPart }) };
    if (this.drvPaths.size >= DRV_PATHS_CACHED) this.drvPaths.delete(this.drvPaths.keys().next().value as string);
    this.drvPaths.set(hashPart, drvPath);
    return { ok: true, drvPath };
  }

  private guard(f: () => Reply<object>): Reply<object> {
    try {
      return f();
    } catch (e) {
      if (e instanceof ProjectionError) return errorReply(e.code.startsWith('INVALID') ? 'INVALID_ARGUMENT' : 'UNAVAILABLE', e.message, e.details);
      throw e;
    }
  }

  async shouldBuild(hashPart: unknown, force: boolean): Promise<Reply<object>> {
    const d = await this.drvPathOf(hashPart);
    if (!d.ok) return d.reply;
    const at = this.position();
    return this.guard(() => this.answer(at, { drvPath: d.drvPath, ...shouldBuild(this.projections.readStore, d.drvPath, { force, now: new Date(), config: this.negativeCache }) }));
  }

  async downstream(hashPart: unknown): Promise<Reply<object>> {
    const d = await this.drvPathOf(hashPart);
    if (!d.ok) return d.reply;
    const at = this.position();
    return this.guard(() => this.answer(at, { drvPath: d.drvPath, ...downstream(this.projections.readStore, d.drvPath, { limit: 10000 }) }));
  }

  async attemptTrace(hashPart: unknown, attemptId: unknown): Promise<Reply<object>> {
    const d = await this.drvPathOf(hashPart);
    if (!d.ok) return d.reply;
    if (typeof attemptId !== 'string' || !ID.test(attemptId)) return errorReply('INVALID_ARGUMENT', 'attemptId must be 1-128 characters of [A-Za-z0-9_-:@]', { field: 'attemptId' });
    const at = this.position();
    const trace = attemptTrace(this.projections.readStore, d.drvPath, attemptId);
    return trace ? this.answer(at, { trace }) : errorReply('NOT_FOUND', `no attempt ${attemptId} of ${d.drvPath} in the read models`, { attemptId });
  }

  group(groupId: unknown): Reply<object> {
    if (typeof groupId !== 'string' || !ID.test(groupId)) return errorReply('INVALID_ARGUMENT', 'groupId must be 1-128 characters of [A-Za-z0-9_-:@]', { field: 'groupId' });
    const at = this.position();
    const g = group(this.projections.readStore, groupId);
    return g ? this.answer(at, { group: g }) : errorReply('NOT_FOUND', `no group ${groupId}`, { groupId });
  }

  incoherence(): Reply<object> {
    const at = this.position();
    return this.guard(() => this.answer(at, { incoherence: incoherence(this.projections.readStore) }));
  }

  fodsDue(olderThanDays?: unknown): Reply<object> {
    const days = olderThanDays === undefined || olderThanDays === '' ? this.config.BUILDGRAPH_FOD_REVERIFY_DAYS : Number(olderThanDays);
    if (!Number.isFinite(days) || days < 0) return errorReply('INVALID_ARGUMENT', 'olderThanDays must be a number >= 0', { field: 'olderThanDays' });
    const at = this.position();
    return this.guard(() => this.answer(at, { fods: fodsDue(this.projections.readStore, { now: new Date(), olderThanMs: days * 86400_000 }) }));
  }
}
