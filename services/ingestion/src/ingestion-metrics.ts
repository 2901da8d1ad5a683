import { instrumentsOf, LATENCY_BUCKETS_SECONDS } from '@kairos/telemetry';

export const ingestionMetrics = instrumentsOf((provider) => {
  const meter = provider.getMeter('kairos.ingestion');
  return {
    accepted: meter.createCounter('kairos_ingestion_accepted_events', { description: 'Events written to the accepted topic' }),
    rejected: meter.createCounter('kairos_ingestion_rejected_events', { description: 'Events refused, by reason and path (http, kafka)' }),
    duplicates: meter.createCounter('kairos_ingestion_duplicate_events', { description: 'Events dropped as a replayed (source, messageId)' }),
    requests: meter.createCounter('kairos_collector_requests', { description: 'Collector requests by endpoint and status' }),
    requestDuration: meter.createHistogram('kairos_collector_request_duration_seconds', {
      description: 'Collector requests from their first byte to the answer (for 200: until Kafka acknowledged), by status',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
  };
});
