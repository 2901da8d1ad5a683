/**
 * Why a record was dead-lettered. A consumer never drops a record: it processes it, or it writes it here.
 * - undecodable: the value is not UTF-8 JSON.
 * - schema_violation: JSON, but not what the topic's schema allows.
 * - rejected: the handler refused it for a reason of the domain (the detail says which).
 * - processing_failed: the handler threw on every retry, also when retried alone.
 */
export const DEAD_LETTER_REASONS = ['undecodable', 'schema_violation', 'rejected', 'processing_failed'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Header names on dead-letter records; the original headers are kept as they were. */
export const DeadLetterHeaders = {
  reason: 'kairos-dlq-reason',
  detail: 'kairos-dlq-detail',
  topic: 'kairos-dlq-topic',
  partition: 'kairos-dlq-partition',
  offset: 'kairos-dlq-offset',
  group: 'kairos-dlq-group',
  attempts: 'kairos-dlq-attempts',
  failedAt: 'kairos-dlq-failed-at',
} as const;
