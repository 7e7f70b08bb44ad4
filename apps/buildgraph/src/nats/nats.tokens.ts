/** Injection token for the service's own NATS connection (null when BUILDGRAPH_NATS_URL is unset). */
export const NATS_CONNECTION = 'buildgraph.NatsConnection';
/** The shared connection's JetStream view, when the server has JetStream (null otherwise). */
export const JETSTREAM = 'buildgraph.JetStream';
