import { instrumentsOf } from '@kairos/telemetry';

export const identityMetrics = instrumentsOf((provider) => {
  const meter = provider.getMeter('kairos.identity');
  return {
    resolved: meter.createCounter('kairos_identity_resolved_events', { description: 'Events re-keyed by profile onto the resolved topic' }),
    merges: meter.createCounter('kairos_identity_merges', { description: 'Profiles merged into another, by reason' }),
    suppressed: meter.createCounter('kairos_identity_suppressed_events', { description: 'Events dropped because they carry an erased identifier' }),
    unresolved: meter.createCounter('kairos_identity_unresolved_events', { description: 'Events without a usable identifier (dead-lettered)' }),
    cacheMisses: meter.createCounter('kairos_identity_cache_misses', { description: 'Identifiers read from PostgreSQL because the cache did not hold them' }),
    erasures: meter.createCounter('kairos_identity_erasures', { description: 'Erasure requests carried out' }),
  };
});
