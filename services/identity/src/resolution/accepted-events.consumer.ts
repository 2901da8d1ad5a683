import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { AcceptedEvent, Topics } from '@kairos/contracts';
import { BatchContext, BatchOutcome, DecodedRecord } from '@kairos/kafka';
import { ResolveEventsUseCase } from './resolve-events.use-case';

/** Transport only: a batch of accepted events of one partition in, to the resolution use case. */
@Controller()
export class AcceptedEventsConsumer {
  constructor(@Inject(ResolveEventsUseCase) private readonly resolve: ResolveEventsUseCase) {}

  @EventPattern(Topics.accepted.name)
  onAcceptedEvents(@Payload() records: DecodedRecord<AcceptedEvent>[], @Ctx() context: BatchContext): Promise<BatchOutcome> {
    return this.resolve.execute(records, context);
  }
}
