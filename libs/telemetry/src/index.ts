export * from './telemetry';
export * from './latency-buckets';
