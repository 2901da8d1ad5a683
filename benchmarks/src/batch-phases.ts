import { MetricSample, metricValue, parseMetrics } from '@kairos/testing';

const PHASES = ['preload', 'apply', 'publish', 'commit'] as const;
type Phase = (typeof PHASES)[number];

/** A service's /metrics at one moment. */
export async function readMetrics(healthPort: number): Promise<MetricSample[]> {
  return parseMetrics(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text());
}

/** A histogram's observations between two reads (those whose labels include `labels`), and their mean in ms. */
export function histogramBetween(before: readonly MetricSample[], after: readonly MetricSample[], name: string, labels: Record<string, string> = {}): { count: number; meanMs: number } {
  const delta = (suffix: 'sum' | 'count') => (metricValue(after, `${name}_${suffix}`, labels) ?? 0) - (metricValue(before, `${name}_${suffix}`, labels) ?? 0);
  const count = delta('count');
  return { count, meanMs: count === 0 ? 0 : Number(((delta('sum') / count) * 1000).toFixed(2)) };
}

/** A stateful stage's `kairos_state_batch_phase_seconds` sums and counts, read from its /metrics at one moment. */
export interface PhaseSnapshot {
  samples: MetricSample[];
}

export async function readPhases(healthPort: number): Promise<PhaseSnapshot> {
  return { samples: (await readMetrics(healthPort)).filter((sample) => sample.name.startsWith('kairos_state_batch_phase_seconds') || sample.name.startsWith('kairos_state_commit_duration_seconds')) };
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
