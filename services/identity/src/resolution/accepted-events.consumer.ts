import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { AcceptedEvent, Topics } from '@kairos/contracts';
import { BatchOutcome, DecodedRecord } from '@kairos/kafka';
import { ResolveEventsUseCase } from './resolve-events.use-case';

/** Transport only: a batch of accepted events in, to the resolution use case. */
@Controller()
export class AcceptedEventsConsumer {
  constructor(@Inject(ResolveEventsUseCase) private readonly resolve: ResolveEventsUseCase) {}

  @EventPattern(Topics.accepted.name)
  onAcceptedEvents(@Payload() records: DecodedRecord<AcceptedEvent>[]): Promise<BatchOutcome> {
    return this.resolve.execute(records);
  }
}
