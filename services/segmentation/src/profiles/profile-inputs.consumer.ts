import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ProfileErasure, ProfileMerge, ProfileTransferRecord, ResolvedEvent, Topics } from '@kairos/contracts';
import { BatchContext, DecodedRecord } from '@kairos/kafka';
import { SegmentProfilesUseCase } from './segment-profiles.use-case';

/** Transport only: a batch of one partition of any input topic, to the profiles' ordered path. */
@Controller()
export class ProfileInputsConsumer {
  constructor(@Inject(SegmentProfilesUseCase) private readonly segmentProfiles: SegmentProfilesUseCase) {}

  @EventPattern(Topics.resolved.name)
  onResolvedEvents(@Payload() records: DecodedRecord<ResolvedEvent>[], @Ctx() context: BatchContext): Promise<void> {
    return this.segmentProfiles.execute(records, context);
  }

  @EventPattern(Topics.merges.name)
  onMerges(@Payload() records: DecodedRecord<ProfileMerge>[], @Ctx() context: BatchContext): Promise<void> {
    return this.segmentProfiles.execute(records, context);
  }

  @EventPattern(Topics.erasures.name)
  onErasures(@Payload() records: DecodedRecord<ProfileErasure>[], @Ctx() context: BatchContext): Promise<void> {
    return this.segmentProfiles.execute(records, context);
  }

  @EventPattern(Topics.profileTransfers.name)
  onTransfers(@Payload() records: DecodedRecord<ProfileTransferRecord>[], @Ctx() context: BatchContext): Promise<void> {
    return this.segmentProfiles.execute(records, context);
  }
}
