/**
 * Bucket bounds (seconds) for request and acknowledgement latencies: fine where the targets are (single-digit to
 * tens of milliseconds), coarse towards the seconds an outage produces.
 */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Bucket bounds (seconds) for a record's age when a stage has handled it: fine across the sub-second range a live
 * pipeline's stages take, coarse up to the minutes a replay or a backlog shows.
 */
export const RECORD_AGE_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300];
