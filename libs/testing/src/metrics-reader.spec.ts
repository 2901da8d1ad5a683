import { metricValue, parseMetrics } from './metrics-reader';

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
