import { instrumentsOf, LATENCY_BUCKETS_SECONDS } from '@kairos/telemetry';

export const dispatchMetrics = instrumentsOf((provider) => {
  const meter = provider.getMeter('kairos.dispatch');
  return {
    outcomes: meter.createCounter('kairos_dispatch_outcomes', { description: 'Outcomes published on the outcomes topic, by kind and channel' }),
    attemptDuration: meter.createHistogram('kairos_dispatch_attempt_duration_seconds', {
      description: 'One SMTP hand-over or webhook POST, by channel and result',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
    stepDuration: meter.createHistogram('kairos_dispatch_step_duration_seconds', {
      description: "Where a delivery's time goes, by step: receive (the batch's insert), suppressions (per claim), mark-sending, attempt (SMTP or webhook), record-answer",
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
    inFlight: meter.createObservableGauge('kairos_dispatch_in_flight', { description: 'Deliveries this instance holds (claimed and not yet written back)' }),
    smtpReachable: meter.createObservableGauge('kairos_dispatch_smtp_reachable', { description: '1 while the SMTP server answers, 0 while deliveries wait for it' }),
    dueDeliveries: meter.createObservableGauge('kairos_dispatch_due_deliveries', { description: 'Deliveries due now that no instance holds (the backlog), as of the last look' }),
    oldestDue: meter.createObservableGauge('kairos_dispatch_oldest_due_seconds', { description: 'How long the oldest due delivery has waited, as of the last look (0: none)', unit: 's' }),
    outboxOldest: meter.createObservableGauge('kairos_dispatch_outbox_oldest_seconds', {
      description: 'How long the oldest outbox row (an outcome, engagement event or dead letter) has waited for the broker, as of the last look (0: none)',
      unit: 's',
    }),
    outboxRefusedRows: meter.createObservableGauge('kairos_dispatch_outbox_refused_rows', {
      description: 'Outbox rows the broker refused for their own fault, set aside in the outbox_refused table, as of the last look',
    }),
    outboxRefused: meter.createCounter('kairos_dispatch_outbox_refused', { description: 'Outbox rows this process set aside because the broker refused them for their own fault, by topic' }),
  };
});

export type DispatchStep = 'receive' | 'suppressions' | 'mark-sending' | 'record-answer';

/** The work's result; its duration goes to kairos_dispatch_step_duration_seconds{step}, whether it succeeded or not. */
export async function timedStep<T>(step: DispatchStep, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    dispatchMetrics().stepDuration.record((performance.now() - started) / 1000, { step });
  }
}
