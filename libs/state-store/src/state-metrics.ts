import { instrumentsOf, LATENCY_BUCKETS_SECONDS } from '@kairos/telemetry';

/** Lateness runs from milliseconds (the target is under a second) to the minutes an outage holds timers back. */
const LATENESS_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** Instruments of every state store of the process. */
export const stateMetrics = instrumentsOf((provider) => {
  const meter = provider.getMeter('kairos.state');
  return {
    commitDuration: meter.createHistogram('kairos_state_commit_duration_seconds', {
      description: 'One transaction of states, timers and input offsets, from BEGIN to COMMIT, by store',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
    batchPhase: meter.createHistogram('kairos_state_batch_phase_seconds', {
      description:
        "Where a completed batch's time went, by store and phase: preload (reading its keys' states), apply (the handler and the timers the stream's time fired, with their reads and pauses), publish (until the broker acknowledged the outputs), commit (its transactions, waiting for a connection included)",
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
    timersFired: meter.createCounter('kairos_state_timers_fired', { description: 'Timers fired and committed, by store and by what fired them (stream time or the wall clock)' }),
    timerLateness: meter.createHistogram('kairos_state_timer_lateness_seconds', {
      description: 'Wall clock minus due time of the timers the wall clock fired, by store',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENESS_BUCKETS_SECONDS },
    }),
    partitions: meter.createObservableGauge('kairos_state_partitions', { description: 'Partitions this instance owns, by store and mode (live, or replaying a backlog)' }),
  };
});
