import { DynamicModule, Module, Provider, Type } from '@nestjs/common';
import { CollectEventsUseCase } from './collector/collect-events.use-case';
import { CollectorController } from './collector/collector.controller';
import { EventLogRepository } from './intake/event-log.repository';
import { IntakeRawEventsUseCase } from './intake/intake-raw-events.use-case';
import { RawEventsConsumer } from './intake/raw-events.consumer';
import { SeenMessagesPruner } from './intake/seen-messages.pruner';
import { SeenMessagesRepository } from './intake/seen-messages.repository';

export type IngestionRole = 'all' | 'collector' | 'intake';

/**
 * The ingestion stage: the HTTP collector and the raw-topic intake. They share nothing but the event log, so one
 * deployment can run both (the default) or each on its own replicas (INGESTION_ROLE) and scale them separately.
 */
@Module({})
export class IngestionModule {
  static forRole(role: IngestionRole): DynamicModule {
    const controllers: Type[] = [];
    const providers: Provider[] = [EventLogRepository];
    if (role !== 'intake') {
      controllers.push(CollectorController);
      providers.push(CollectEventsUseCase);
    }
    if (role !== 'collector') {
      controllers.push(RawEventsConsumer);
      providers.push(IntakeRawEventsUseCase, SeenMessagesRepository, SeenMessagesPruner);
    }
    return { module: IngestionModule, controllers, providers };
  }
}
