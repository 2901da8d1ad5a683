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

/**
 * Triggers' internal repartition record (kairos.triggers.transfers.v1, key = the survivor whose writer folds it); see
 * schemas/journeys-transfer.v1.schema.json. When a profile is merged away, its writer hands its journeys state (running
 * instances, pending absences, entry counts, the sends the frequency caps count) to the survivor's partition here;
 * written only by triggers, for itself.
 */
export interface JourneysTransferRecord {
  /** Deterministic (`journeys/<loserId>`): a copy published again after a crash is folded once. */
  transferId: string;
  /** The consumer group that wrote it: a replay under another group ignores it (it makes its own). */
  groupId: string;
  /** The survivor (the record key). */
  profileId: string;
  loserId: string;
  /** ISO 8601: when segmentation merged the loser away (its merge update's time). */
  mergedAt: string;
  /** Redirect hops so far (the survivor merged away in turn: A <- B <- C forwards twice); bounded against a cycle. */
  hops: number;
  /** The loser's journeys state as triggers keeps it (libs/journeys JourneysState). */
  state: { profileId: string; [field: string]: unknown };
}

/**
 * A decided A/B split (kairos.journeys.split-winners.v1, compacted, key `journeyId@version/stepId`); see
 * schemas/split-winner.v1.schema.json.
 */
export interface SplitWinnerRecord {
  journeyId: string;
  journeyVersion: number;
  stepId: string;
  /** winner: `variant` from `effectiveAt` on; inconclusive: no variant was ahead, the weights stay. */
  outcome: 'winner' | 'inconclusive';
  variant?: string;
  /** ISO 8601. */
  decidedAt: string;
  /** ISO 8601: instances reaching the split at or after it get the winner. */
  effectiveAt: string;
  pValue: number;
  confidence: number;
  minimumPerVariant: number;
  tally: Record<string, { recipients: number; conversions: number }>;
}

export const splitWinnerKey = (journeyId: string, version: number, stepId: string): string => `${journeyId}@${version}/${stepId}`;
