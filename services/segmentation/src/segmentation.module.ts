import { Module } from '@nestjs/common';
import { BackfillSegmentsUseCase } from './profiles/backfill-segments.use-case';
import { ProfileInputsConsumer } from './profiles/profile-inputs.consumer';
import { SegmentationOutputsRepository } from './profiles/segmentation-outputs.repository';
import { SegmentProfilesUseCase } from './profiles/segment-profiles.use-case';
import { SegmentsInForce } from './profiles/segments-in-force';

/** The segmentation stage: resolved events, merges and erasures -> profile state, the ordered profile-updates stream, segment changes and profile snapshots. */
@Module({
  controllers: [ProfileInputsConsumer],
  providers: [SegmentProfilesUseCase, BackfillSegmentsUseCase, SegmentsInForce, SegmentationOutputsRepository],
})
export class SegmentationModule {}
