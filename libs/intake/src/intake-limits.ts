/** Segment's published limits where it has them; Kairos's own where it does not (depth, trait count). */
export interface IntakeLimits {
  maxEventBytes: number;
  maxBatchBytes: number;
  maxBatchEvents: number;
  maxDepth: number;
  maxTraits: number;
  /** Events dated further ahead of receivedAt than this are refused (after clock-skew correction). */
  maxFutureMs: number;
  /** Events dated before this are refused: no customer event predates it, a zero or garbage clock does. */
  earliestTimestamp: string;
}

export const DEFAULT_LIMITS: IntakeLimits = {
  maxEventBytes: 32 * 1024,
  maxBatchBytes: 500 * 1024,
  maxBatchEvents: 2_500,
  maxDepth: 32,
  maxTraits: 500,
  maxFutureMs: 24 * 60 * 60 * 1000,
  earliestTimestamp: '2000-01-01T00:00:00.000Z',
};
