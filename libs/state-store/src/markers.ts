import { StateAccess } from './state-transaction';

/**
 * Injection token: how long a marker stays in place of a profile's state — the redirect of a merged-away profile, the
 * tombstone of an erased one — in milliseconds (`STATE_MARKERS_KEPT_SECONDS`, 30 days): longer than any input topic
 * keeps a record still keyed by that profile (resolved events 30 days; profile updates and transfers 7), so nothing
 * that could arrive for it finds it gone.
 */
export const MARKERS_KEPT_MS = Symbol('MARKERS_KEPT_MS');

/** The timer that removes a marker once it has served. */
export const MARKER_EXPIRY_TIMER = 'marker-expiry';

/**
 * Puts a marker in place of `key`'s state (its state and timers must have been deleted before) and the timer that
 * removes it; markers used to stay forever, a row per merged or erased profile in every stateful store. The lifetime
 * counts from `writtenAt`, the wall clock, not from the merge's or erasure's event time: a historical import's merge is
 * stamped long ago, yet records keyed by its loser may still be on their way. So a replay (which runs long after)
 * removes no marker before what it reads could need it, and decides as the live run did.
 */
export function putMarker<S>(access: StateAccess<S>, key: string, marker: S, writtenAt: number, keptMs: number): void {
  access.put(key, marker);
  access.setTimer(key, MARKER_EXPIRY_TIMER, writtenAt + keptMs);
}
