import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();
  const port = Number(process.env.BUILDGRAPH_HTTP_PORT ?? 8080);
  await app.listen(port);
}

void bootstrap();
