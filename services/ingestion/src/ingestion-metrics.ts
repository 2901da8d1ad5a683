import { Counter, Histogram, metrics } from '@opentelemetry/api';
import { LATENCY_BUCKETS_SECONDS } from '@kairos/telemetry';

interface IngestionInstruments {
  accepted: Counter;
  rejected: Counter;
  duplicates: Counter;
  requests: Counter;
  requestDuration: Histogram;
}

let instruments: IngestionInstruments | undefined;

/** Created on first use, after the telemetry provider is registered (the metrics API has no proxy). */
export function ingestionMetrics(): IngestionInstruments {
  instruments ??= (() => {
    const meter = metrics.getMeter('kairos.ingestion');
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
  })();
  return instruments;
}
