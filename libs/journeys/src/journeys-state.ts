import { ProfileState } from '@kairos/segmentation';
import { SentRecord } from './guard-rails';

/** The event that started an instance (or a pending absence): what the mail renders, e.g. the cart's products. */
export interface TriggerEvent {
  name?: string;
  messageId?: string;
  at: number;
  properties?: Record<string, unknown>;
}

/** One profile's run through one journey version. */
export interface InstanceState {
  instanceId: string;
  journeyId: string;
  /** The version it started with: it keeps it to the end. */
  version: number;
  /** With onePerKey: the value of the key property (a cartId). */
  key?: string;
  enteredAt: number;
  trigger?: TriggerEvent;
  /**
   * waiting: until dueAt, then the step `stepId`; retry: the send `stepId` was deferred (quiet hours, cap) until
   * dueAt; waiting-event: the waitForEvent `stepId`, timing out at dueAt; done: every step ran, the goal window is
   * open until dueAt.
   */
  status: 'waiting' | 'retry' | 'waiting-event' | 'done';
  stepId: string;
  dueAt: number;
  /** waitForEvent: the value of the match property the awaited event must carry. */
  matchValue?: unknown;
  variant?: string;
  /** The last step that ran. */
  lastStepId?: string;
  /** The last send that went out: a conversion is attributed to it (to lastStepId when none did, e.g. in a control group). */
  lastSentStepId?: string;
  goalUntil?: number;
  /**
   * In a variant of a split with an automatic winner: when its sample is due (the goal window's end). An instance still
   * running then is counted as not converted (`sampled`), so a variant with long steps is not counted later than others.
   */
  sampleAt?: number;
  sampled?: true;
  /** Events named by the journey's waitForEvent steps seen since entry, so a wait sees one that came before it began. */
  observed: TriggerEvent[];
}

/** "A not followed by B within T": A was seen, the journey starts at the deadline unless B with the same key comes. */
export interface PendingAbsence {
  journeyId: string;
  version: number;
  key?: string;
  deadline: number;
  event: TriggerEvent;
}

/**
 * A finished instance of a split with an automatic winner, counted once its goal window has closed: converted or not,
 * every sample is counted at the same distance from entry, so a variant whose conversions come later is not judged
 * before they could come.
 */
export interface SplitSample {
  journeyId: string;
  version: number;
  stepId: string;
  variant: string;
  converted: boolean;
  /** When the instance's goal window closes: the sample counts from then. */
  at: number;
}

/** What triggers keeps per profile (one row of the state store, key profileId). JSON-serialisable. */
export interface JourneysState {
  profileId: string;
  /** The profile as segmentation last emitted it (absent before the first update and after an erasure). */
  profile?: ProfileState;
  segments: Record<string, { version: number; since: number }>;
  instances: InstanceState[];
  /** Journey id -> how often and when last the profile entered (re-entry rules). */
  entries: Record<string, { count: number; lastAt: number }>;
  absences: PendingAbsence[];
  /**
   * Journey id -> the next occurrence of its recurring date, the date it was computed from and the schedule (every,
   * local time, offset, time zone): a change of either reschedules.
   */
  recurring: Record<string, { nextAt: number; date: string; schedule?: string }>;
  /** Journey id -> the inactivity deadline measured from the last activity `since`; fired once per stretch. */
  inactivity: Record<string, { since: number; dueAt: number; fired: boolean }>;
  /** Journey id -> whether its threshold held at the last update (a crossing is false -> true). */
  thresholds: Record<string, boolean>;
  /** Sends across all journeys, for the frequency caps. */
  sent: SentRecord[];
  /** Digests of the latest update ids applied: a republished copy of an update changes nothing. */
  recentUpdates: string[];
  /** Profiles merged into this one whose journeys were folded in: a second copy of a hand-over folds nothing. */
  foldedLosers?: string[];
  /** Finished instances of winner splits whose goal window is still open (see SplitSample). */
  samples?: SplitSample[];
}

/** Losers remembered per survivor: enough for any real merge history, bounded against a pathological one. */
export const FOLDED_LOSERS_LIMIT = 1_000;

export function emptyJourneysState(profileId: string): JourneysState {
  return { profileId, segments: {}, instances: [], entries: {}, absences: [], recurring: {}, inactivity: {}, thresholds: {}, sent: [], recentUpdates: [] };
}

/** The next moment something of this profile comes due (the one durable timer per profile), or undefined. */
export function nextDueAt(state: JourneysState): number | undefined {
  // Called after every step: no intermediate arrays.
  let due = Number.POSITIVE_INFINITY;
  for (const instance of state.instances) {
    if (instance.dueAt < due) due = instance.dueAt;
    // Just after the window's end: a goal at its last millisecond still counts.
    if (instance.sampleAt !== undefined && !instance.sampled && instance.sampleAt + 1 < due) due = instance.sampleAt + 1;
  }
  for (const absence of state.absences) if (absence.deadline < due) due = absence.deadline;
  for (const id in state.recurring) if (state.recurring[id].nextAt < due) due = state.recurring[id].nextAt;
  for (const sample of state.samples ?? []) if (sample.at < due) due = sample.at;
  for (const id in state.inactivity) {
    const entry = state.inactivity[id];
    if (!entry.fired && entry.dueAt < due) due = entry.dueAt;
  }
  return due === Number.POSITIVE_INFINITY ? undefined : due;
}

/**
 * Identity merged `loser` into `survivor`: one profile from now on. Its running instances, entry counts, pending
 * absences and the sends the caps count come along (so a merged customer is neither re-welcomed nor over-mailed);
 * schedules are recomputed from the survivor's next update. A loser is folded once: a second copy of it (a hand-over
 * published again after a crash) changes nothing, also after the instances it brought have finished.
 */
export function mergeJourneysStates(survivor: JourneysState, loser: JourneysState): JourneysState {
  if (survivor.foldedLosers?.includes(loser.profileId)) return survivor;
  const entries = { ...survivor.entries };
  for (const [journeyId, entry] of Object.entries(loser.entries)) {
    const mine = entries[journeyId];
    entries[journeyId] = mine ? { count: Math.max(mine.count, entry.count), lastAt: Math.max(mine.lastAt, entry.lastAt) } : entry;
  }
  const thresholds = { ...survivor.thresholds };
  for (const [journeyId, holds] of Object.entries(loser.thresholds)) thresholds[journeyId] = (thresholds[journeyId] ?? false) || holds;
  const known = new Set(survivor.instances.map((instance) => instance.instanceId));
  const sent = new Set(survivor.sent.map((entry) => entry.dispatchId));
  // The loser's own folded losers come along: a late copy of one of their hand-overs, forwarded here, folds nothing.
  const foldedLosers = [...new Set([...(survivor.foldedLosers ?? []), ...(loser.foldedLosers ?? []), loser.profileId])].slice(-FOLDED_LOSERS_LIMIT);
  return {
    ...survivor,
    // Until the survivor's own next update, what is known of the person is the loser's profile.
    ...(survivor.profile ?? loser.profile ? { profile: survivor.profile ?? loser.profile } : {}),
    instances: [...survivor.instances, ...loser.instances.filter((instance) => !known.has(instance.instanceId))],
    entries,
    absences: [...survivor.absences, ...loser.absences.filter((absence) => !survivor.absences.some((mine) => mine.journeyId === absence.journeyId && mine.key === absence.key))],
    thresholds,
    sent: [...survivor.sent, ...loser.sent.filter((entry) => !sent.has(entry.dispatchId))],
    recentUpdates: [...new Set([...survivor.recentUpdates, ...loser.recentUpdates])].slice(-64),
    foldedLosers,
    ...(survivor.samples?.length || loser.samples?.length ? { samples: [...(survivor.samples ?? []), ...(loser.samples ?? [])] } : {}),
  };
}
