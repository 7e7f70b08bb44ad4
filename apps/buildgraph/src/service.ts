import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ServiceConfig } from './config/config';
import { addCommandRoutes } from './http/openapi';
import { natsOptions } from './nats/nats.module';
import { PlainReplySerializer, RawRequestDeserializer } from './nats/wire-codec';

export interface RunningService {
  app: INestApplication;
  /** the HTTP base URL actually bound (port 0 picks a free one) */
  url: string;
  close(): Promise<void>;
}

/** Builds and starts the service: HTTP always, NATS intake when BUILDGRAPH_NATS_URL is set. */
export async function startService(config: ServiceConfig, opts: { logger?: boolean } = {}): Promise<RunningService> {
  const app = await NestFactory.create(AppModule.forRoot(config), { bodyParser: false, bufferLogs: true, abortOnError: false, logger: opts.logger === false ? false : undefined });
  if (opts.logger !== false) app.useLogger(app.get(Logger));
  if (config.BUILDGRAPH_NATS_URL) {
    app.connectMicroservice<MicroserviceOptions>(
      {
        transport: Transport.NATS,
        options: {
          ...natsOptions(config, 'buildgraph-intake'),
          queue: config.BUILDGRAPH_NATS_QUEUE,
          // on close: unsubscribe, let the replies in flight go out, then close the connection
          gracefulShutdown: true,
          gracePeriod: 300,
          serializer: new PlainReplySerializer(),
          deserializer: new RawRequestDeserializer(),
        },
      },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
  }
  const doc = new DocumentBuilder()
    .setTitle('buildgraph')
    .setDescription('Event-sourced record of what Nix build farms did. Commands mirror NATS subjects buildgraph.v1.<name>; every reply is {ok:true,...} or {ok:false,error:{code,message,details}}.')
    .setVersion('1')
    .build();
  SwaggerModule.setup('docs', app, () => addCommandRoutes(SwaggerModule.createDocument(app, doc)));
  await app.listen(config.BUILDGRAPH_HTTP_PORT);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.BUILDGRAPH_HTTP_PORT;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
