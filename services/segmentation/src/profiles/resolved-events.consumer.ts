import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ResolvedEvent, Topics } from '@kairos/contracts';
import { BatchContext, DecodedRecord } from '@kairos/kafka';
import { SegmentProfilesUseCase } from './segment-profiles.use-case';

/** Transport only: a batch of resolved events of one partition in, to the profiles' ordered path. */
@Controller()
export class ResolvedEventsConsumer {
  constructor(@Inject(SegmentProfilesUseCase) private readonly segmentProfiles: SegmentProfilesUseCase) {}

  @EventPattern(Topics.resolved.name)
  onResolvedEvents(@Payload() records: DecodedRecord<ResolvedEvent>[], @Ctx() context: BatchContext): Promise<void> {
    return this.segmentProfiles.execute(records, context);
  }
}
