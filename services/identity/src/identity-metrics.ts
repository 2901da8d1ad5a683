import { Counter, metrics } from '@opentelemetry/api';

interface IdentityInstruments {
  resolved: Counter;
  merges: Counter;
  suppressed: Counter;
  unresolved: Counter;
  cacheMisses: Counter;
  erasures: Counter;
}

let instruments: IdentityInstruments | undefined;

/** Created on first use, after the telemetry provider is registered (the metrics API has no proxy). */
export function identityMetrics(): IdentityInstruments {
  instruments ??= (() => {
    const meter = metrics.getMeter('kairos.identity');
    return {
      resolved: meter.createCounter('kairos_identity_resolved_events', { description: 'Events re-keyed by profile onto the resolved topic' }),
      merges: meter.createCounter('kairos_identity_merges', { description: 'Profiles merged into another, by reason' }),
      suppressed: meter.createCounter('kairos_identity_suppressed_events', { description: 'Events dropped because they carry an erased identifier' }),
      unresolved: meter.createCounter('kairos_identity_unresolved_events', { description: 'Events without a usable identifier (dead-lettered)' }),
      cacheMisses: meter.createCounter('kairos_identity_cache_misses', { description: 'Identifiers read from PostgreSQL because the cache did not hold them' }),
      erasures: meter.createCounter('kairos_identity_erasures', { description: 'Erasure requests carried out' }),
    };
  })();
  return instruments;
}
