import { Module } from '@nestjs/common';
import { ResolvedEventsConsumer } from './profiles/resolved-events.consumer';
import { SegmentationOutputsRepository } from './profiles/segmentation-outputs.repository';
import { SegmentProfilesUseCase } from './profiles/segment-profiles.use-case';
import { SegmentsInForce } from './profiles/segments-in-force';

/** The segmentation stage: resolved events -> profile state, segment changes and profile snapshots. */
@Module({
  controllers: [ResolvedEventsConsumer],
  providers: [SegmentProfilesUseCase, SegmentsInForce, SegmentationOutputsRepository],
})
export class SegmentationModule {}
