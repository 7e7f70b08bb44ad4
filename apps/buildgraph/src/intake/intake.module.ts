import { Module } from '@nestjs/common';
import { LogsModule } from '../logs/logs.module';
import { TrustModule } from '../trust/trust.module';
import { CommandExecutor } from './command-executor';
import { IntakeHttpController } from './intake.http.controller';
import { IntakeNatsController } from './intake.nats.controller';
import { IntakeService } from './intake.service';
import { StreamWriter } from './stream-writer';

@Module({
  imports: [TrustModule, LogsModule],
  providers: [IntakeService, CommandExecutor, StreamWriter],
  controllers: [IntakeHttpController, IntakeNatsController],
  exports: [StreamWriter],
})
export class IntakeModule {}
