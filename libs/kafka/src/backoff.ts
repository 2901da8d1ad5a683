export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, initialDelayMs: 200, maxDelayMs: 5_000 };

/** While a dependency is down: quick first retries (a blip), then every 5-10 s; `attempts` does not apply. */
export const OUTAGE_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, initialDelayMs: 250, maxDelayMs: 10_000 };

/** Exponential back-off with full jitter; `random` is injectable so the schedule can be tested. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
