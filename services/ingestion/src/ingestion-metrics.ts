import { Counter, Histogram, metrics } from '@opentelemetry/api';

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
        advice: { explicitBucketBoundaries: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5] },
      }),
    };
  })();
  return instruments;
}
