import type { FastifyAdapter } from '@nestjs/platform-fastify';
import { PinoLogger } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage';
import { HttpLogger, pinoHttp } from 'pino-http';

/** Requests logged only at debug: the API, health checks and scrapes (their outcomes are in /metrics). */
export function quietRoute(url: string): boolean {
  return url.startsWith('/v1/') || url === '/metrics' || url.startsWith('/health');
}

/**
 * pino-http's request lines, and the request's logger bound for the Nest logs written while it runs,
 * as nestjs-pino's middleware gives them, but from a Fastify hook that skips the quiet routes at once:
 * any Nest middleware makes every request pay for @fastify/middie, ~30 µs of a should-build's ~60.
 */
export function logRequests(adapter: FastifyAdapter, level: string): void {
  const fastify = adapter.getInstance();
  const everything = level === 'debug' || level === 'trace';
  let httpLogger: HttpLogger | undefined;
  fastify.addHook('onRequest', (req, reply, done) => {
    if (!everything && quietRoute(req.url)) return done();
    // the root logger exists once LoggerModule is configured (app init), before any request
    httpLogger ??= pinoHttp({ logger: PinoLogger.root });
    httpLogger(req.raw, reply.raw);
    storage.run(new Store(req.raw.log), done);
  });
}
