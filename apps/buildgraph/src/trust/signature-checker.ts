import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Signer, TrustStore, verifier, WireError } from '@buildgraph/contracts';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { TRUST_STORE } from './trust';
import { VerifyPool } from './verify-pool';

/** Authenticates a command's signature, on worker threads when BUILDGRAPH_VERIFY_THREADS > 0. */
@Injectable()
export class SignatureChecker implements OnApplicationShutdown {
  private readonly pool?: VerifyPool;
  private readonly inline = new Map<string, (body: string | Uint8Array, sig: Buffer) => boolean>();

  constructor(
    @Inject(TRUST_STORE) private readonly trust: TrustStore,
    @Inject(SERVICE_CONFIG) config: ServiceConfig,
  ) {
    if (config.BUILDGRAPH_VERIFY_THREADS > 0) this.pool = new VerifyPool(trust.keys(), config.BUILDGRAPH_VERIFY_THREADS);
    else for (const k of trust.keys()) this.inline.set(k.name, verifier(k));
  }

  async authenticate(body: string | Uint8Array, header: string | undefined): Promise<{ ok: true; signer: Signer } | { ok: false; error: WireError }> {
    const id = this.trust.identify(header);
    if (!id.ok) return id;
    const valid = this.pool ? await this.pool.verify(id.key.name, body, id.signature) : (this.inline.get(id.key.name)?.(body, id.signature) ?? false);
    return TrustStore.outcome(id.key, id.signature, valid);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool?.close();
  }
}
