import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Meter } from '@opentelemetry/api';

/**
 * How long callbacks waited for the event loop since the last collection (p50, p99, max, in seconds): the first
 * thing to look at when request latency has a tail the handlers' own timings do not show, because time spent waiting
 * for a blocked loop is charged to whatever arrived meanwhile. Returns the stop function.
 */
export function recordEventLoopDelay(meter: Meter): () => void {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const gauge = meter.createObservableGauge('kairos_event_loop_delay_seconds', {
    description: 'Event-loop delay since the previous collection, by quantile (0.5, 0.99, 1 = max)',
    unit: 's',
  });
  gauge.addCallback((result) => {
    if (histogram.count === 0) return;
    result.observe(histogram.percentile(50) / 1e9, { quantile: '0.5' });
    result.observe(histogram.percentile(99) / 1e9, { quantile: '0.99' });
    result.observe(histogram.max / 1e9, { quantile: '1' });
    histogram.reset();
  });
  return () => histogram.disable();
}
