import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { authorize, CommandName, errorReply, LIMITS, parseCommand, Reply } from '@buildgraph/contracts';
import { createHash } from 'node:crypto';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';
import { MetricsService } from '../metrics/metrics.service';
import { SignatureChecker } from '../trust/signature-checker';
import { CommandExecutor } from './command-executor';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The command path, the same for NATS and HTTP: bound the size, authenticate the signature over the
 * exact bytes, validate the DTO, check the signer's role, then execute (decide + durable append).
 * Never throws: every outcome is a wire Reply. Tracks in-flight commands so shutdown can finish them.
 */
@Injectable()
export class IntakeService implements BeforeApplicationShutdown {
  private readonly log = new Logger('Intake');
  private inflight = 0;
  private draining = false;
  private drained?: () => void;

  constructor(
    private readonly signatures: SignatureChecker,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    private readonly executor: CommandExecutor,
    private readonly metrics: MetricsService,
  ) {}

  async handle(name: CommandName, body: Uint8Array | string, signature: string | undefined, transport: 'nats' | 'http'): Promise<Reply<object>> {
    if (this.draining) return errorReply('UNAVAILABLE', 'the service is shutting down; retry (another replica will answer)');
    this.inflight++;
    this.metrics.inflight.inc();
    let reply: Reply<object>;
    try {
      reply = await this.run(name, body, signature);
    } catch (e) {
      this.log.error({ err: e, command: name }, 'command failed unexpectedly');
      reply = errorReply('INTERNAL', 'the service failed to handle the command; it was not recorded');
    } finally {
      this.inflight--;
      this.metrics.inflight.dec();
      if (this.draining && this.inflight === 0) this.drained?.();
    }
    this.metrics.commands.inc({ command: name, outcome: reply.ok ? 'ok' : reply.error.code, transport });
    return reply;
  }

  private async run(name: CommandName, body: Uint8Array | string, signature: string | undefined): Promise<Reply<object>> {
    const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (bytes > LIMITS.requestBytes) {
      return errorReply('PAYLOAD_TOO_LARGE', `request body is ${bytes} bytes; the limit is ${LIMITS.requestBytes}`, { bytes, limit: LIMITS.requestBytes });
    }
    // JSON is UTF-8 (RFC 8259); the body is kept as text with the events, so other bytes are refused
    let text: string;
    try {
      text = typeof body === 'string' ? body : UTF8.decode(body);
    } catch {
      return errorReply('INVALID_ARGUMENT', 'request body is not valid UTF-8');
    }
    const auth = await this.signatures.authenticate(body, signature);
    if (!auth.ok) return { ok: false, error: auth.error };
    const parsed = parseCommand(name, text);
    if (!parsed.ok) return { ok: false, error: parsed.error };
    const denied = authorize(auth.signer.role, name, parsed.value);
    if (denied) return { ok: false, error: denied };
    // a retry of the same bytes is the same command: same id, so correlation survives retries
    const commandId = createHash('sha256').update(name).update('\n').update(body).digest('hex').slice(0, 32);
    return this.executor.execute(name, parsed.value, {
      commandId,
      recordedAt: new Date().toISOString(),
      // the exact signed bytes, so an auditor can verify the signature offline (replay --verify)
      signer: { keyName: auth.signer.keyName, signature: auth.signer.signature, body: text },
    });
  }

  /** Stop taking commands and wait (bounded) for the ones in flight, before NATS and the store close. */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    if (this.inflight === 0) return;
    this.log.log(`shutting down: waiting for ${this.inflight} commands in flight`);
    await Promise.race([
      new Promise<void>((resolve) => (this.drained = resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, this.config.BUILDGRAPH_SHUTDOWN_GRACE_MS).unref()),
    ]);
  }
}
