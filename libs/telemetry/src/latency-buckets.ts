/**
 * Bucket bounds (seconds) for request and acknowledgement latencies: fine where the targets are (single-digit to
 * tens of milliseconds), coarse towards the seconds an outage produces.
 */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5];
