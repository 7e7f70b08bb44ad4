import { Module } from '@nestjs/common';
import { ProjectionsService } from './projections.service';
import { ReadModelsHttpController } from './read-models.http.controller';
import { ReadModelsNatsController } from './read-models.nats.controller';
import { ReadModelsService } from './read-models.service';

@Module({ providers: [ProjectionsService, ReadModelsService], controllers: [ReadModelsHttpController, ReadModelsNatsController], exports: [ProjectionsService] })
export class ProjectionsModule {}
