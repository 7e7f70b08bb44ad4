import { Deserializer, IncomingRequest, Serializer, ServerNats } from '@nestjs/microservices';
import { errorReply } from '@buildgraph/contracts';

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

/** The reply body is exactly the handler's `Reply` object. */
export class PlainReplySerializer implements Serializer<OutgoingPacket, { data: Uint8Array }> {
  serialize(packet: OutgoingPacket): { data: Uint8Array } {
    let body: unknown;
    if (packet.err !== undefined) body = errorReply('INTERNAL', 'the service failed to handle the request');
    else if (packet.response !== undefined) body = packet.response;
    else body = errorReply('INTERNAL', 'the handler produced no reply');
    return { data: Buffer.from(JSON.stringify(body)) };
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
}
