import { Module } from '@nestjs/common';
import { NotifierModule } from '../notifier/notifier.module';
import { ProjectionsModule } from '../projections/projections.module';
import { HealthController } from './health.controller';

@Module({ imports: [ProjectionsModule, NotifierModule], controllers: [HealthController] })
export class HealthModule {}
