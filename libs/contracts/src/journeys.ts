/** A journey fact (kairos.journeys.outcomes.v1, key profileId); see schemas/journey-outcome.v1.schema.json. */
export interface JourneyOutcomeRecord {
  /** Deterministic (instance, step, kind, time), so a republished copy is recognised. */
  outcomeId: string;
  kind: 'entered' | 'step-executed' | 'waiting' | 'capped' | 'deferred' | 'suppressed-by-consent' | 'goal-reached' | 'exited';
  profileId: string;
  journeyId: string;
  journeyVersion: number;
  instanceId: string;
  stepId?: string;
  variant?: string;
  /** ISO 8601: the time of the input that caused it. */
  at: string;
  /** Kind-specific: exit reason, goal value and currency, cap rule, deferred-until, dispatchId. */
  detail?: Record<string, unknown>;
}
