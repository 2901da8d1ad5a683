import { instrumentsOf, LATENCY_BUCKETS_SECONDS, RECORD_AGE_BUCKETS_SECONDS } from '@kairos/telemetry';

/** Instruments shared by every consumer and producer of the process. */
export const kafkaMetrics = instrumentsOf((provider) => {
  const meter = provider.getMeter('kairos.kafka');
  return {
    consumed: meter.createCounter('kairos_kafka_consumed_records', { description: 'Records handed to handlers' }),
    deadLettered: meter.createCounter('kairos_kafka_dead_lettered_records', { description: 'Records written to a DLQ' }),
    produced: meter.createCounter('kairos_kafka_produced_records', { description: 'Records acknowledged by the broker' }),
    batchDuration: meter.createHistogram('kairos_kafka_batch_duration_ms', { description: 'Handler time per batch', unit: 'ms' }),
    produceDuration: meter.createHistogram('kairos_kafka_produce_duration_seconds', {
      description: 'Produce requests from sending to the broker acknowledging (acks from all in-sync replicas)',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
    recordAge: meter.createHistogram('kairos_kafka_record_age_seconds', {
      description: "A record's age (since its producer stamped it) once the handler was done with its batch (its outputs acknowledged, its state committed): a stage's share of end-to-end latency while live, the backlog's age while it replays",
      unit: 's',
      advice: { explicitBucketBoundaries: RECORD_AGE_BUCKETS_SECONDS },
    }),
    lag: meter.createObservableGauge('kairos_kafka_consumer_lag', { description: 'High watermark minus next offset' }),
  };
});
