import { DynamicModule, Global, Module } from '@nestjs/common';
import { SERVICE_CONFIG, ServiceConfig } from './config';

/** Settings validated once at start-up by loadConfig (main.ts), so a bad one stops the process before Nest starts. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: SERVICE_CONFIG, useValue: config }], exports: [SERVICE_CONFIG] };
  }
}
