import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CustomStrategy } from '@nestjs/microservices';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ServiceConfig } from './config/config';
import { addCommandRoutes } from './http/openapi';
import { logRequests } from './http/request-log';
import { natsOptions } from './nats/nats.module';
import { PlainReplySerializer, RawRequestDeserializer, SubjectRoutedNatsServer } from './nats/wire-codec';
import { createServer } from 'node:net';

export interface RunningService {
  app: INestApplication;
  /** the HTTP base URL actually bound (port 0 picks a free one) */
  url: string;
  close(): Promise<void>;
}

/** Builds and starts the service: HTTP always, NATS intake when BUILDGRAPH_NATS_URL is set. */
export async function startService(config: ServiceConfig, opts: { logger?: boolean } = {}): Promise<RunningService> {
  const adapter = httpAdapter();
  logRequests(adapter, config.BUILDGRAPH_LOG_LEVEL);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bodyParser: false,
    bufferLogs: true,
    abortOnError: false,
    logger: opts.logger === false ? false : undefined,
  });
  if (opts.logger !== false) app.useLogger(app.get(Logger));
  if (config.BUILDGRAPH_NATS_URL) {
    const server: SubjectRoutedNatsServer = new SubjectRoutedNatsServer({
      ...natsOptions(config, 'buildgraph-intake'),
      queue: config.BUILDGRAPH_NATS_QUEUE,
      // on close: unsubscribe, let the replies in flight go out, then close the connection
      gracefulShutdown: true,
      gracePeriod: 300,
      serializer: new PlainReplySerializer(() => server.maxPayload()),
      deserializer: new RawRequestDeserializer(),
    });
    app.connectMicroservice<CustomStrategy>({ strategy: server }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  const doc = new DocumentBuilder()
    .setTitle('buildgraph')
    .setDescription('Event-sourced record of what Nix build farms did. Commands mirror NATS subjects buildgraph.v1.<name>; every reply is {ok:true,...} or {ok:false,error:{code,message,details}}.')
    .setVersion('1')
    .build();
  SwaggerModule.setup('docs', app, () => addCommandRoutes(SwaggerModule.createDocument(app, doc)));
  await app.listen(config.BUILDGRAPH_HTTP_PORT, await anyAddress());
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.BUILDGRAPH_HTTP_PORT;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/**
 * Fastify, routing as Express did (case-insensitive, trailing slash ignored, parameters of any length),
 * with no body parsing: a command's signature covers its exact bytes, which the intake controller reads
 * from the raw request whatever its Content-Type says (http/wire.ts readRawBody, with our own bound).
 */
function httpAdapter(): FastifyAdapter {
  const adapter = new FastifyAdapter({
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    // while closing, requests on open keep-alive connections still get wire replies (UNAVAILABLE), not Fastify's 503
    return503OnClosing: false,
  });
  const fastify = adapter.getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, _payload, done) => done(null));
  // a Content-Type Fastify cannot parse would be refused (415) before any parser runs: on the routes that
  // take a body, hide it from that check (and put it back for the handler); GET routes run no hook
  const hidden = Symbol('content-type');
  type Hidden = { [hidden]?: string };
  fastify.addHook('onRoute', (route) => {
    if (![route.method].flat().some((m) => m !== 'GET' && m !== 'HEAD')) return;
    route.preParsing = [
      (req, _reply, payload, done) => {
        (req as Hidden)[hidden] = req.headers['content-type'];
        delete req.raw.headers['content-type'];
        done(null, payload);
      },
      ...[route.preParsing ?? []].flat(),
    ];
    route.preValidation = [
      (req, _reply, done) => {
        const contentType = (req as Hidden)[hidden];
        if (contentType !== undefined) req.raw.headers['content-type'] = contentType;
        done();
      },
      ...[route.preValidation ?? []].flat(),
    ];
  });
  return adapter;
}

/** Every address, IPv6 and IPv4, as node's http.Server.listen(port) binds without a host; IPv4 only where IPv6 is off. */
function anyAddress(): Promise<string> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve('0.0.0.0'));
    probe.listen(0, '::', () => probe.close(() => resolve('::')));
  });
}
