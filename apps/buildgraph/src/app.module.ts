import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { ConfigModule } from './config/config.module';
import { ServiceConfig } from './config/config';
import { HealthModule } from './health/health.module';
import { IntakeModule } from './intake/intake.module';
import { LogsModule } from './logs/logs.module';
import { MetricsModule } from './metrics/metrics.module';
import { NatsModule } from './nats/nats.module';
import { NotifierModule } from './notifier/notifier.module';
import { ProjectionsModule } from './projections/projections.module';
import { QueryModule } from './query/query.module';
import { StoreModule } from './store/store.module';

/** One process: intake, queries, notifier, operations. Each capability is its own module. */
@Module({})
export class AppModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: { level: config.BUILDGRAPH_LOG_LEVEL, base: { service: 'buildgraph' } },
          // no Nest middleware: request lines come from a Fastify hook that skips the hot routes (http/request-log.ts)
          forRoutes: [],
        }),
        MetricsModule,
        StoreModule,
        NatsModule,
        LogsModule,
        IntakeModule,
        QueryModule,
        ProjectionsModule,
        NotifierModule,
        HealthModule,
      ],
    };
  }
}
