import { Deserializer, IncomingRequest, Serializer, ServerNats } from '@nestjs/microservices';
import { errorReply } from '@buildgraph/contracts';
import type { NatsConnection } from 'nats';

/**
 * The wire is plain JSON, not Nest's `{pattern, data, id}` envelope, so any NATS client can talk to us
 * (`nats req buildgraph.v1.attempt.succeed '{...}'`). The handler gets the raw body bytes: the signature
 * covers those exact bytes, so nothing may parse and re-encode them first.
 */
export class RawRequestDeserializer implements Deserializer<Uint8Array, IncomingRequest> {
  deserialize(value: Uint8Array, options?: { channel?: string; replyTo?: string }): IncomingRequest {
    // Nest treats a message without `id` as an event and never replies; the reply inbox is unique per request.
    return { pattern: options?.channel ?? '', data: value ?? new Uint8Array(0), id: options?.replyTo as string };
  }
}

interface OutgoingPacket {
  response?: unknown;
  err?: unknown;
  isDisposed?: boolean;
}

/** NATS's default max_payload; the server may allow more (infra/nats.conf sets 8 MB). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * The reply body is exactly the handler's `Reply` object. A reply the bus cannot carry (over the
 * server's max_payload) becomes a PAYLOAD_TOO_LARGE error naming the HTTP route, instead of a publish
 * that fails and leaves the requester to time out.
 */
export class PlainReplySerializer implements Serializer<OutgoingPacket, { data: Uint8Array }> {
  constructor(private readonly maxPayload: () => number = () => DEFAULT_MAX_PAYLOAD) {}

  serialize(packet: OutgoingPacket): { data: Uint8Array } {
    let body: unknown;
    if (packet.err !== undefined) body = errorReply('INTERNAL', 'the service failed to handle the request');
    else if (packet.response !== undefined) body = packet.response;
    else body = errorReply('INTERNAL', 'the handler produced no reply');
    const data = Buffer.from(JSON.stringify(body));
    // a little room for the reply subject and headers
    const limit = this.maxPayload() - 1024;
    if (data.byteLength <= limit) return { data };
    return {
      data: Buffer.from(
        JSON.stringify(
          errorReply('PAYLOAD_TOO_LARGE', `the reply is ${data.byteLength} bytes, more than this NATS server carries; ask over HTTP (same route under /v1)`, {
            bytes: data.byteLength,
            limit,
          }),
        ),
      ),
    };
  }
}

/**
 * Nest's NATS server, routing by subject directly. Nest's own lookup first tries `JSON.parse` on every
 * subject (for object patterns) and fails with an exception each time; our patterns are plain subjects.
 */
export class SubjectRoutedNatsServer extends ServerNats {
  override getRouteFromPattern(pattern: string): string {
    return pattern.startsWith('{') ? super.getRouteFromPattern(pattern) : pattern;
  }

  /** The connected server's max_payload (the NATS default until connected). */
  maxPayload(): number {
    try {
      return this.unwrap<NatsConnection>().info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    } catch {
      return DEFAULT_MAX_PAYLOAD;
    }
  }
}
