/**
 * The life of one dispatch in the deliveries table (one row per dispatch id):
 *
 *   received --allowed--> rendering --rendered--> sending --smtp-accepted--> sent
 *      |                     |                     |  \--smtp-permanent--> failed (dead-lettered)
 *      |                     \--render-failed--> failed (dead-lettered)
 *      |                                           \--smtp-temporary--> retrying --(due) allowed--> sending
 *      |                                               (or failed after the last attempt)  \--suppressed--> suppressed
 *      \--suppressed--> suppressed
 *
 * A request redelivered for a dispatch that already has a row changes nothing, whatever its state.
 */
export type DeliveryStatus = 'received' | 'rendering' | 'sending' | 'retrying' | 'sent' | 'failed' | 'suppressed';

/** One SMTP attempt, kept for the outcome and for the dead letter ("with its history"). */
export interface DeliveryAttempt {
  attempt: number;
  at: string;
  result: 'accepted' | 'temporary' | 'permanent';
  /** The SMTP reply code, absent for a refused connection or a timeout. */
  code?: number;
  detail: string;
}

export type DeliveryFailureReason = 'render-failed' | 'smtp-permanent' | 'retries-exhausted';

interface DeliveryBase {
  /** SMTP attempts made so far. */
  attempts: number;
  history: readonly DeliveryAttempt[];
}

export type DeliveryState =
  | (DeliveryBase & { status: 'received' | 'rendering' | 'sending' })
  | (DeliveryBase & { status: 'retrying'; nextAttemptAt: string })
  | (DeliveryBase & { status: 'sent'; sentAt: string; messageId: string; response: string })
  | (DeliveryBase & { status: 'failed'; reason: DeliveryFailureReason; detail: string })
  | (DeliveryBase & { status: 'suppressed'; reason: string });

export type DeliveryEvent =
  /** The dispatch request arrived (again): the row exists, so this is a redelivery. */
  | { type: 'requested' }
  /** Consent, suppression list and erasure were checked at the moment of sending and allow it. */
  | { type: 'allowed' }
  /** The same check says no: withdrawn consent, a suppressed address, an erased profile… */
  | { type: 'suppressed'; reason: string }
  | { type: 'rendered' }
  | { type: 'render-failed'; detail: string }
  | { type: 'smtp-accepted'; messageId: string; response: string }
  /** A 4xx reply, a refused connection, a timeout — or a restart that found the attempt unfinished. */
  | { type: 'smtp-temporary'; code?: number; detail: string }
  /** A 5xx reply: retrying would get the same answer. */
  | { type: 'smtp-permanent'; code: number; detail: string }
  /**
   * No SMTP server answered at all (connection refused, connect timeout, DNS): an outage of the relay, not a verdict
   * on this mail. It waits for the relay without using up an attempt, so no outage, however long, fails a delivery.
   */
  | { type: 'smtp-unreachable'; detail: string };

export type DeliveryOutcome = 'queued' | 'sent' | 'failed' | 'retried' | 'suppressed';

/** What the service does after writing the new state (never before: the state is the record of what was decided). */
export type DeliveryEffect =
  | { type: 'check' }
  | { type: 'render' }
  | { type: 'send'; attempt: number }
  | { type: 'schedule-retry'; at: string }
  | { type: 'publish-outcome'; outcome: DeliveryOutcome }
  | { type: 'dead-letter' };

export interface RetryPolicy {
  /** SMTP attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, initialDelayMs: 60_000, maxDelayMs: 3_600_000 };

export interface DeliveryClock {
  now: Date;
  /** Math.random in the service; a fixed sequence in tests. */
  random: () => number;
  policy?: RetryPolicy;
}

export type DeliveryTransition =
  | { ok: true; state: DeliveryState; effects: DeliveryEffect[] }
  | { ok: false; reason: 'illegal-transition'; status: DeliveryStatus; event: DeliveryEvent['type']; message: string };

/** A new dispatch request: the row to insert, and the consent check to make. */
export function receiveDelivery(): { state: DeliveryState; effects: DeliveryEffect[] } {
  return { state: { status: 'received', attempts: 0, history: [] }, effects: [{ type: 'publish-outcome', outcome: 'queued' }, { type: 'check' }] };
}

/** The next state of a delivery and what to do about it, or a refusal: states only move forward. */
export function advanceDelivery(state: DeliveryState, event: DeliveryEvent, clock: DeliveryClock): DeliveryTransition {
  const base: DeliveryBase = { attempts: state.attempts, history: state.history };
  const at = clock.now.toISOString();
  switch (event.type) {
    case 'requested':
      return { ok: true, state, effects: [] }; // a redelivery: the row already decided, whatever it decided
    case 'allowed':
      if (state.status === 'received') return { ok: true, state: { ...base, status: 'rendering' }, effects: [{ type: 'render' }] };
      // Only the retry timer sends again, never an early check.
      if (state.status === 'retrying' && clock.now.getTime() >= Date.parse(state.nextAttemptAt)) return send(base);
      break;
    case 'suppressed':
      if (state.status === 'received' || state.status === 'retrying') {
        return { ok: true, state: { ...base, status: 'suppressed', reason: event.reason }, effects: [{ type: 'publish-outcome', outcome: 'suppressed' }] };
      }
      break;
    case 'rendered':
      if (state.status === 'rendering') return send(base);
      break;
    case 'render-failed':
      if (state.status === 'rendering') return fail(base, 'render-failed', event.detail);
      break;
    case 'smtp-accepted':
      if (state.status === 'sending') {
        const sent = withAttempt(base, { at, result: 'accepted', detail: event.response });
        return { ok: true, state: { ...sent, status: 'sent', sentAt: at, messageId: event.messageId, response: event.response }, effects: [{ type: 'publish-outcome', outcome: 'sent' }] };
      }
      break;
    case 'smtp-permanent':
      if (state.status === 'sending') return fail(withAttempt(base, { at, result: 'permanent', code: event.code, detail: event.detail }), 'smtp-permanent', `${event.code} ${event.detail}`);
      break;
    case 'smtp-unreachable':
      if (state.status === 'sending') {
        const nextAttemptAt = new Date(clock.now.getTime() + outageDelayMs(clock.random)).toISOString();
        return { ok: true, state: { ...base, status: 'retrying', nextAttemptAt }, effects: [{ type: 'schedule-retry', at: nextAttemptAt }] };
      }
      break;
    case 'smtp-temporary':
      if (state.status === 'sending') return retry(withAttempt(base, { at, result: 'temporary', ...(event.code === undefined ? {} : { code: event.code }), detail: event.detail }), event.detail, clock);
      break;
  }
  return { ok: false, reason: 'illegal-transition', status: state.status, event: event.type, message: `a delivery that is ${state.status} cannot take ${event.type}` };
}

function retry(base: DeliveryBase, detail: string, clock: DeliveryClock): DeliveryTransition {
  const policy = clock.policy ?? DEFAULT_RETRY_POLICY;
  if (base.attempts >= policy.maxAttempts) return fail(base, 'retries-exhausted', `${base.attempts} attempts; last: ${detail}`);
  const nextAttemptAt = new Date(clock.now.getTime() + retryDelayMs(base.attempts, policy, clock.random)).toISOString();
  return {
    ok: true,
    state: { ...base, status: 'retrying', nextAttemptAt },
    effects: [{ type: 'publish-outcome', outcome: 'retried' }, { type: 'schedule-retry', at: nextAttemptAt }],
  };
}

/**
 * Exponential back-off with "equal jitter": after the n-th failed attempt, between half and all of
 * min(max, initial × 2^(n-1)). The jitter spreads the mail that failed together when the SMTP server comes back;
 * the half kept fixed stops an unlucky draw from retrying at once.
 */
export function retryDelayMs(failedAttempts: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** While the relay is unreachable: 5 to 15 s, so mail waiting for it goes out soon after it is back, not all at once. */
export function outageDelayMs(random: () => number): number {
  return Math.round(5_000 + random() * 10_000);
}

function withAttempt(base: DeliveryBase, attempt: Omit<DeliveryAttempt, 'attempt'>): DeliveryBase {
  const number = base.attempts + 1;
  return { attempts: number, history: [...base.history, { attempt: number, ...attempt }] };
}

function send(base: DeliveryBase): DeliveryTransition {
  return { ok: true, state: { ...base, status: 'sending' }, effects: [{ type: 'send', attempt: base.attempts + 1 }] };
}

function fail(base: DeliveryBase, reason: DeliveryFailureReason, detail: string): DeliveryTransition {
  return {
    ok: true,
    state: { ...base, status: 'failed', reason, detail },
    effects: [{ type: 'publish-outcome', outcome: 'failed' }, { type: 'dead-letter' }],
  };
}
