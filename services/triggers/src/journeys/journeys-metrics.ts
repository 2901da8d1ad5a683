import { instrumentsOf } from '@kairos/telemetry';

export const journeysMetrics = instrumentsOf((provider) => ({
  outcomes: provider.getMeter('kairos.journeys').createCounter('kairos_journeys_outcomes', { description: 'Journey outcomes committed and published, by journey and kind' }),
}));
