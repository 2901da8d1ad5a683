import { StateAccess } from './state-transaction';

/**
 * Injection token: how long the redirect a merged-away profile leaves in place of its state stays, in milliseconds
 * (`STATE_MARKERS_KEPT_SECONDS`, 60 days): longer than any topic keeps a record still keyed by that profile (resolved
 * events and dead letters, which an operator may send again, 30 days; profile updates and transfers 7).
 */
export const MARKERS_KEPT_MS = Symbol('MARKERS_KEPT_MS');

/** The timer that removes a redirect once it has served. */
export const MARKER_EXPIRY_TIMER = 'marker-expiry';

/**
 * Puts a merged-away profile's redirect in place of its state (its state and timers must have been deleted before)
 * and the timer that removes it: redirects used to stay forever, a row per merge (most are an anonymous visitor
 * logging in) in every stateful store. The lifetime counts from `writtenAt`, the wall clock, not from the merge's
 * event time: a historical import's merge is stamped long ago, yet records keyed by its loser may still be on their
 * way; and a replay, which runs long after, removes none while it runs. An erased profile's marker is not put here:
 * it stays, so that nothing sent again, however late, brings an erased person back.
 */
export function putRedirect<S>(access: StateAccess<S>, key: string, redirect: S, writtenAt: number, keptMs: number): void {
  access.put(key, redirect);
  access.setTimer(key, MARKER_EXPIRY_TIMER, writtenAt + keptMs);
}
