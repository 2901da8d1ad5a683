import { histogramBetween, MetricSample, readMetrics } from '@kairos/testing';

const PHASES = ['preload', 'apply', 'publish', 'commit'] as const;
type Phase = (typeof PHASES)[number];

/** A stateful stage's `kairos_state_batch_phase_seconds` sums and counts, read from its /metrics at one moment. */
export interface PhaseSnapshot {
  samples: MetricSample[];
}

export async function readPhases(healthPort: number): Promise<PhaseSnapshot> {
  return { samples: (await readMetrics(`http://127.0.0.1:${healthPort}/metrics`)).filter((sample) => sample.name.startsWith('kairos_state_batch_phase_seconds') || sample.name.startsWith('kairos_state_commit_duration_seconds')) };
}

/** Batches between two snapshots and the mean milliseconds per batch of each phase: where a batch's time went. */
export function phasesBetween(before: PhaseSnapshot, after: PhaseSnapshot): { batches: number; meanMs: Record<Phase, number>; transactionMeanMs: number } {
  const phase = (name: Phase) => histogramBetween(before.samples, after.samples, 'kairos_state_batch_phase_seconds', { phase: name });
  const meanMs = Object.fromEntries(PHASES.map((name) => [name, phase(name).meanMs])) as Record<Phase, number>;
  // Every transaction (timer rounds' too) from BEGIN to COMMIT: the commit phase less this waited for a connection.
  const transactionMeanMs = histogramBetween(before.samples, after.samples, 'kairos_state_commit_duration_seconds').meanMs;
  return { batches: phase('commit').count, meanMs, transactionMeanMs };
}

export function describePhases({ batches, meanMs, transactionMeanMs }: ReturnType<typeof phasesBetween>): string {
  return `${batches.toLocaleString()} batches, mean ms per batch: ${PHASES.map((phase) => `${phase} ${meanMs[phase]}`).join(', ')} (from BEGIN to COMMIT: ${transactionMeanMs})`;
}
