import { instrumentsOf } from '@kairos/telemetry';

export const segmentationMetrics = instrumentsOf((provider) => {
  const meter = provider.getMeter('kairos.segmentation');
  return {
    changes: meter.createCounter('kairos_segmentation_changes', { description: 'Segment entries and exits committed and published, by segment, change and cause' }),
    backfilledProfiles: meter.createCounter('kairos_segmentation_backfilled_profiles', { description: 'Stored profiles a backfill evaluated, by partition' }),
    backfillsRunning: meter.createUpDownCounter('kairos_segmentation_backfills_running', { description: 'Partitions with a backfill under way' }),
  };
});
