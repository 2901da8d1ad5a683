import { Module } from '@nestjs/common';
import { EVENT_SCHEMAS, SchemaValidator } from '@kairos/contracts';
import { ErasureController } from './erasure/erasure.controller';
import { ErasureRequestsConsumer } from './erasure/erasure-requests.consumer';
import { EraseProfileUseCase } from './erasure/erase-profile.use-case';
import { GraphWriter } from './graph/graph-writer';
import { IdentityGraphRepository } from './graph/identity-graph.repository';
import { SuppressionBootstrap } from './graph/suppression-bootstrap';
import { IdentityLogRepository } from './identity-log.repository';
import { AcceptedEventsConsumer } from './resolution/accepted-events.consumer';
import { ResolveEventsUseCase } from './resolution/resolve-events.use-case';

/** The identity stage: accepted events -> resolved events by profile, merges, and erasure. */
@Module({
  controllers: [AcceptedEventsConsumer, ErasureRequestsConsumer, ErasureController],
  providers: [
    ResolveEventsUseCase,
    EraseProfileUseCase,
    GraphWriter,
    IdentityGraphRepository,
    IdentityLogRepository,
    SuppressionBootstrap,
    { provide: SchemaValidator, useFactory: () => new SchemaValidator(EVENT_SCHEMAS) },
  ],
})
export class IdentityModule {}
