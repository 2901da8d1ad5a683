import { Module } from '@nestjs/common';
import { CollectEventsUseCase } from './collector/collect-events.use-case';
import { CollectorController } from './collector/collector.controller';
import { EventLogRepository } from './intake/event-log.repository';
import { IntakeRawEventsUseCase } from './intake/intake-raw-events.use-case';
import { RawEventsConsumer } from './intake/raw-events.consumer';
import { SeenMessagesPruner } from './intake/seen-messages.pruner';
import { SeenMessagesRepository } from './intake/seen-messages.repository';

/** The ingestion stage: the HTTP collector and the raw-topic intake. Settings and sources come from main.ts. */
@Module({
  controllers: [CollectorController, RawEventsConsumer],
  providers: [CollectEventsUseCase, IntakeRawEventsUseCase, EventLogRepository, SeenMessagesRepository, SeenMessagesPruner],
})
export class IngestionModule {}
