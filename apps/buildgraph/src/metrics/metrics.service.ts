import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics on a registry of our own (not prom-client's global one, so tests can run several services). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'buildgraph_commands_total',
    help: 'Commands received, by command and outcome (ok or the wire error code)',
    labelNames: ['command', 'outcome', 'transport'] as const,
    registers: [this.registry],
  });
  readonly appendSeconds = new Histogram({
    name: 'buildgraph_append_seconds',
    help: 'Time to durably append one command\'s events',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly inflight = new Gauge({ name: 'buildgraph_commands_in_flight', help: 'Commands being handled now', registers: [this.registry] });
  readonly projectionLag = new Gauge({
    name: 'buildgraph_projection_lag_events',
    help: 'Events in the log not yet applied to the read models (-1: unknown, no projections running)',
    registers: [this.registry],
  });
  readonly policyBacklog = new Gauge({
    name: 'buildgraph_policy_backlog_events',
    help: 'Events not yet seen by the policies (-1: unknown, no policies running)',
    registers: [this.registry],
  });
  readonly notifierLag = new Gauge({
    name: 'buildgraph_notifier_lag_events',
    help: 'Events appended but not yet published to NATS (-1: no NATS)',
    registers: [this.registry],
  });

  readonly threadUp = new Gauge({
    name: 'buildgraph_thread_up',
    help: 'Whether a worker thread (projections, notifier) is running: 1 up, 0 down and being restarted',
    labelNames: ['thread'] as const,
    registers: [this.registry],
  });
  readonly threadRestarts = new Counter({
    name: 'buildgraph_thread_restarts_total',
    help: 'Worker threads restarted after they died or stopped on an error',
    labelNames: ['thread'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'buildgraph_' });
    this.projectionLag.set(-1);
    this.policyBacklog.set(-1);
    this.notifierLag.set(-1);
  }
}
