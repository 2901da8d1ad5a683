import { MetricSample, parseMetrics } from '@kairos/testing';

const PHASES = ['preload', 'apply', 'publish', 'commit'] as const;
type Phase = (typeof PHASES)[number];

/** A stateful stage's `kairos_state_batch_phase_seconds` sums and counts, read from its /metrics at one moment. */
export interface PhaseSnapshot {
  samples: MetricSample[];
}

export async function readPhases(healthPort: number): Promise<PhaseSnapshot> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  return { samples: parseMetrics(text).filter((sample) => sample.name.startsWith('kairos_state_batch_phase_seconds') || sample.name.startsWith('kairos_state_commit_duration_seconds')) };
}

/** Batches between two snapshots and the mean milliseconds per batch of each phase: where a batch's time went. */
export function phasesBetween(before: PhaseSnapshot, after: PhaseSnapshot): { batches: number; meanMs: Record<Phase, number>; transactionMeanMs: number } {
  const total = (snapshot: PhaseSnapshot, suffix: 'sum' | 'count', phase: Phase) =>
    snapshot.samples.filter((sample) => sample.name === `kairos_state_batch_phase_seconds_${suffix}` && sample.labels['phase'] === phase).reduce((sum, sample) => sum + sample.value, 0);
  const batches = total(after, 'count', 'commit') - total(before, 'count', 'commit');
  const meanMs = Object.fromEntries(
    PHASES.map((phase) => {
      const count = total(after, 'count', phase) - total(before, 'count', phase);
      return [phase, count === 0 ? 0 : Number((((total(after, 'sum', phase) - total(before, 'sum', phase)) / count) * 1000).toFixed(2))];
    }),
  ) as Record<Phase, number>;
  // Every transaction (timer rounds' too) from BEGIN to COMMIT: the commit phase less this waited for a connection.
  const metric = (snapshot: PhaseSnapshot, suffix: 'sum' | 'count') =>
    snapshot.samples.filter((sample) => sample.name === `kairos_state_commit_duration_seconds_${suffix}`).reduce((sum, sample) => sum + sample.value, 0);
  const transactions = metric(after, 'count') - metric(before, 'count');
  const transactionMeanMs = transactions === 0 ? 0 : Number((((metric(after, 'sum') - metric(before, 'sum')) / transactions) * 1000).toFixed(2));
  return { batches, meanMs, transactionMeanMs };
}

export function describePhases({ batches, meanMs, transactionMeanMs }: ReturnType<typeof phasesBetween>): string {
  return `${batches.toLocaleString()} batches, mean ms per batch: ${PHASES.map((phase) => `${phase} ${meanMs[phase]}`).join(', ')} (from BEGIN to COMMIT: ${transactionMeanMs})`;
}
