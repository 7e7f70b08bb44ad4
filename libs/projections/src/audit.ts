/**
 * Who said what, checked offline. Every command's signer (key name and ed25519 signature) is stored in
 * the event's metadata. An auditor can check that each signer is a trusted key whose role allowed the
 * event, and verify the signature itself against the signed command bytes. The service stores those
 * bytes once per append (`metadata.signer.body` on the append's first event); the other events of the
 * same command share its causationId and are verified against the body remembered for it. Events
 * written by policies carry no signer: they are counted, not flagged.
 */
import { type TrustedKey, formatRole, verifier } from '@buildgraph/contracts';
import type { RecordedEvent } from '@buildgraph/eventstore';

export interface SignatureProblem {
  position: string;
  id: string;
  type: string;
  problem: string;
}

export interface SignatureAudit {
  events: number;
  signed: number;
  /** by type: events without a signer (policy output, or written before signing existed) */
  unsigned: Record<string, number>;
  /** signatures verified cryptographically against the stored signed body */
  verified: number;
  /** well-formed signatures from allowed keys whose signed body is not stored, so not verifiable offline */
  notVerifiable: number;
  problems: SignatureProblem[];
  /** problems beyond the first MAX_PROBLEMS are only counted */
  problemCount: number;
}

const MAX_PROBLEMS = 100;
/** bodies remembered by causationId: a command's events are adjacent in the log, so a few suffice */
const REMEMBERED_BODIES = 1024;
const FARM_EVENTS = new Set([
  'AttemptStarted',
  'AttemptSucceeded',
  'AttemptFailed',
  'AttemptResolved',
  'FodVerified',
  'FodMismatch',
  'GroupOpened',
  'DerivationRegistered',
]);
const EVALUATOR_EVENTS = new Set(['DerivationRegistered', 'GroupOpened']);

export class SignatureAuditor {
  private readonly keys:
    Map<string, { key: TrustedKey; verify: (body: string, sig: Buffer) => boolean }> | undefined;
  private readonly audit: SignatureAudit = {
    events: 0,
    signed: 0,
    unsigned: {},
    verified: 0,
    notVerifiable: 0,
    problems: [],
    problemCount: 0,
  };

  private readonly bodies = new Map<string, string>();

  /** The signed body of this event's command: stored on it, or on an earlier event of the same command. */
  private bodyOf(r: RecordedEvent, signer: { body?: unknown }): string | undefined {
    const causationId = (r.metadata as { causationId?: unknown }).causationId;
    const key = typeof causationId === 'string' ? causationId : undefined;
    if (typeof signer.body === 'string') {
      if (key !== undefined) {
        this.bodies.delete(key);
        this.bodies.set(key, signer.body);
        if (this.bodies.size > REMEMBERED_BODIES) this.bodies.delete(this.bodies.keys().next().value as string);
      }
      return signer.body;
    }
    return key === undefined ? undefined : this.bodies.get(key);
  }

  /** Without trusted keys, only the form of each signature is checked. */
  constructor(trusted?: readonly TrustedKey[]) {
    if (trusted) this.keys = new Map(trusted.map((k) => [k.name, { key: k, verify: verifier(k) }]));
  }

  private problem(r: RecordedEvent, problem: string): void {
    this.audit.problemCount++;
    if (this.audit.problems.length < MAX_PROBLEMS)
      this.audit.problems.push({ position: r.position.toString(), id: r.id, type: r.type, problem });
  }

  check(batch: readonly RecordedEvent[]): void {
    for (const r of batch) {
      this.audit.events++;
      const signer = (r.metadata as { signer?: { keyName?: unknown; signature?: unknown; body?: unknown } }).signer;
      if (signer === undefined) {
        this.audit.unsigned[r.type] = (this.audit.unsigned[r.type] ?? 0) + 1;
        continue;
      }
      this.audit.signed++;
      if (typeof signer.keyName !== 'string' || typeof signer.signature !== 'string') {
        this.problem(r, 'metadata.signer must have string keyName and signature');
        continue;
      }
      const sig = Buffer.from(signer.signature, 'base64');
      if (sig.length !== 64 || sig.toString('base64') !== signer.signature) {
        this.problem(r, `signature of ${signer.keyName} is not the base64 of 64 bytes`);
        continue;
      }
      const body = this.bodyOf(r, signer);
      if (!this.keys) {
        this.audit.notVerifiable++;
        continue;
      }
      const trusted = this.keys.get(signer.keyName);
      if (!trusted) {
        this.problem(r, `signed by ${signer.keyName}, which is not a trusted key`);
        continue;
      }
      const role = trusted.key.role;
      const farm = (r.data as { farm?: unknown }).farm;
      if (
        role.kind === 'farm' &&
        (!FARM_EVENTS.has(r.type) || (typeof farm === 'string' && farm !== role.farm))
      ) {
        this.problem(
          r,
          `a ${formatRole(role)} key may not sign ${r.type}${typeof farm === 'string' ? ` for farm ${farm}` : ''}`,
        );
        continue;
      }
      if (role.kind === 'evaluator' && !EVALUATOR_EVENTS.has(r.type)) {
        this.problem(r, `an evaluator key may not sign ${r.type}`);
        continue;
      }
      if (body === undefined) {
        this.audit.notVerifiable++;
      } else if (trusted.verify(body, sig)) {
        this.audit.verified++;
      } else {
        this.problem(r, `signature of ${signer.keyName} does not match the stored command`);
      }
    }
  }

  result(): SignatureAudit {
    return { ...this.audit, unsigned: { ...this.audit.unsigned }, problems: [...this.audit.problems] };
  }
}
