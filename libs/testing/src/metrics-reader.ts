/** One sample of a Prometheus exposition: `name{label="value",…} 12.5`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments and blank lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[label[1]] = unescapeLabel(label[2]);
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Prometheus escapes a label value's backslash, double quote and line feed. */
function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, char: string) => (char === 'n' ? '\n' : char));
}

/** The sum of a metric's samples whose labels include these (undefined when it has none). */
export function metricValue(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  return matching.length === 0 ? undefined : matching.reduce((sum, sample) => sum + sample.value, 0);
}

/** A service's /metrics (at `url`) at one moment. */
export async function readMetrics(url: string): Promise<MetricSample[]> {
  return parseMetrics(await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text());
}

/** A histogram's observations between two reads (those whose labels include `labels`), and their mean in ms. */
export function histogramBetween(before: readonly MetricSample[], after: readonly MetricSample[], name: string, labels: Record<string, string> = {}): { count: number; meanMs: number } {
  const delta = (suffix: 'sum' | 'count') => (metricValue(after, `${name}_${suffix}`, labels) ?? 0) - (metricValue(before, `${name}_${suffix}`, labels) ?? 0);
  const count = delta('count');
  return { count, meanMs: count === 0 ? 0 : Number(((delta('sum') / count) * 1000).toFixed(2)) };
}

/**
 * Quantiles (ms) of a histogram's observations between two reads, from its cumulative buckets, interpolated linearly
 * within the bucket the rank falls in (as Prometheus' histogram_quantile): as fine as the buckets, no finer.
 */
export function quantilesBetween(before: readonly MetricSample[], after: readonly MetricSample[], name: string, labels: Record<string, string>, quantiles: readonly number[]): number[] {
  const bounds = [...new Set(after.filter((sample) => sample.name === `${name}_bucket` && sample.labels['le'] !== undefined).map((sample) => sample.labels['le']))];
  const buckets = bounds
    .map((le) => ({ upper: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: (metricValue(after, `${name}_bucket`, { ...labels, le }) ?? 0) - (metricValue(before, `${name}_bucket`, { ...labels, le }) ?? 0) }))
    .sort((a, b) => a.upper - b.upper);
  const total = buckets.at(-1)?.count ?? 0;
  return quantiles.map((quantile) => {
    if (total === 0) return NaN;
    const rank = quantile * total;
    let lower = 0;
    let below = 0;
    for (const { upper, count } of buckets) {
      if (count >= rank) {
        // Above the last finite bound there is nothing to interpolate towards: the bound is all that is known.
        const at = Number.isFinite(upper) ? lower + ((upper - lower) * (rank - below)) / Math.max(1, count - below) : lower;
        return Math.round(at * 1000);
      }
      lower = upper;
      below = count;
    }
    return Math.round(lower * 1000);
  });
}

/** Reads a service's /metrics until `check` passes on the samples (or the time is up, when the last failure — an assertion or a failed read — is thrown). */
export async function untilMetrics(url: string, check: (samples: MetricSample[]) => void, timeoutMs = 15_000): Promise<MetricSample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const samples = await readMetrics(url);
      check(samples);
      return samples;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
