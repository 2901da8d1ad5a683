import { metricValue, parseMetrics, quantilesBetween } from './metrics-reader';

describe('parseMetrics', () => {
  const text = [
    '# HELP kairos_dispatch_outcomes_total Outcomes published',
    '# TYPE kairos_dispatch_outcomes_total counter',
    'kairos_dispatch_outcomes_total{kind="sent",channel="email"} 5',
    'kairos_dispatch_outcomes_total{kind="sent",channel="webhook"} 2',
    'kairos_dispatch_outcomes_total{kind="retried",channel="email"} 7 1700000000000',
    'kairos_dispatch_smtp_reachable 1',
    'kairos_odd{note="a \\"quoted\\" word"} 0.25',
    '',
  ].join('\n');

  it('reads names, labels and values, and sums the samples that carry the labels asked for', () => {
    const samples = parseMetrics(text);
    expect(samples).toHaveLength(5);
    expect(metricValue(samples, 'kairos_dispatch_outcomes_total', { kind: 'sent' })).toBe(7);
    expect(metricValue(samples, 'kairos_dispatch_outcomes_total', { kind: 'retried', channel: 'email' })).toBe(7);
    expect(metricValue(samples, 'kairos_dispatch_smtp_reachable')).toBe(1);
    expect(samples[4]).toEqual({ name: 'kairos_odd', labels: { note: 'a "quoted" word' }, value: 0.25 });
  });

  it('says undefined for a metric that is not exposed, not 0', () => {
    expect(metricValue(parseMetrics(text), 'kairos_dispatch_outcomes_total', { kind: 'failed' })).toBeUndefined();
    expect(metricValue(parseMetrics(text), 'kairos_missing')).toBeUndefined();
  });
});

describe('quantilesBetween', () => {
  const histogram = (counts: number[]) =>
    parseMetrics(['0.1', '0.2', '0.5', '+Inf'].map((le, index) => `age_seconds_bucket{topic="t",le="${le}"} ${counts[index]}`).join('\n'));

  it('interpolates within the bucket the rank falls in, counting only what was observed between the reads', () => {
    const before = histogram([10, 10, 10, 10]);
    // Between the reads: 50 under 0.1 s, 40 in (0.1, 0.2], 10 in (0.2, 0.5].
    const after = histogram([60, 100, 110, 110]);
    expect(quantilesBetween(before, after, 'age_seconds', { topic: 't' }, [0.5, 0.9, 0.99])).toEqual([100, 200, 470]);
  });

  it('answers the last finite bound for a rank beyond it, and NaN when nothing was observed', () => {
    expect(quantilesBetween([], histogram([0, 0, 1, 2]), 'age_seconds', { topic: 't' }, [0.99])).toEqual([500]);
    expect(quantilesBetween(histogram([1, 1, 1, 1]), histogram([1, 1, 1, 1]), 'age_seconds', { topic: 't' }, [0.5])).toEqual([NaN]);
    expect(quantilesBetween([], histogram([1, 1, 1, 1]), 'age_seconds', { topic: 'other' }, [0.5])).toEqual([NaN]);
  });
});
