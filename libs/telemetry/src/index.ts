export * from './telemetry';
export * from './instruments';
export * from './latency-buckets';
