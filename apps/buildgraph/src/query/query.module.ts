import { Module } from '@nestjs/common';
import { QueryHttpController } from './query.http.controller';
import { QueryNatsController } from './query.nats.controller';
import { QueryService } from './query.service';

@Module({ providers: [QueryService], controllers: [QueryHttpController, QueryNatsController] })
export class QueryModule {}
