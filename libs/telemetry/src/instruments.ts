import { metrics, MeterProvider } from '@opentelemetry/api';

/**
 * A getter of instruments made by `create` from the global meter provider, on first use (the metrics API has no proxy:
 * a meter taken before the telemetry library registers its provider would stay a no-op), and made again when another
 * provider took over (a service restarted in the same process, as tests do).
 */
export function instrumentsOf<T>(create: (provider: MeterProvider) => T): () => T {
  let made: { provider: MeterProvider; instruments: T } | undefined;
  return () => {
    const provider = metrics.getMeterProvider();
    if (made?.provider !== provider) made = { provider, instruments: create(provider) };
    return made.instruments;
  };
}
