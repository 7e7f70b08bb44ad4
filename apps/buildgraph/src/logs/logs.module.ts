import { Module } from '@nestjs/common';
import { LogsController } from './logs.controller';
import { LogStore } from './log-store';

@Module({ providers: [LogStore], controllers: [LogsController], exports: [LogStore] })
export class LogsModule {}
