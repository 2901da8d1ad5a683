import { ResolvedEvent } from '@kairos/contracts';
import { applyConsentSignal, consentSignals } from './consent';
import { matchesFilters } from './comparison';
import { ProfileModel } from './profile-model';
import { ProfileState, Stamped, later } from './profile-state';
import { addToSeries, pruneBuckets } from './series';

/** The fields of a resolved event segmentation reads; a whole ResolvedEvent fits. */
export type ProfileEvent = Pick<ResolvedEvent, 'type' | 'messageId' | 'timestamp'> &
  Partial<Pick<ResolvedEvent, 'event' | 'name' | 'properties' | 'traits' | 'context'>>;

export interface ApplyResult {
  state: ProfileState;
  /** The event was applied before (its messageId is among the recent ones): the state is returned unchanged. */
  duplicate: boolean;
}

/** Traits that say when a customer signed up, under the names shops send; all land in `signedUpAt`. */
const SIGN_UP_TRAITS = ['signedUpAt', 'createdAt', 'created_at'];
const SIGN_UP_EVENT = 'Signed Up';
/**
 * Events dispatch feeds back (libs/dispatch-core ENGAGEMENT_EVENT_NAMES) that say something about a mail rather than
 * the customer: they count for engagement and consent, not as being seen or active (lifecycle, inactivity journeys).
 * A click, an unsubscribe or a confirmation is the customer acting, and counts.
 */
const MAIL_FACTS = new Set(['Email Opened', 'Email Bounced', 'Email Marked as Spam']);

/**
 * Folds one event into a profile's state. Everything is judged at the event's own time (its `timestamp`), so a
 * replay reaches the same state; `now` (the stream time) only moves the horizon past which buckets are dropped.
 */
export function applyEvent(state: ProfileState, event: ProfileEvent, model: ProfileModel, now: number): ApplyResult {
  if (state.recentMessageIds.some(([, id]) => id === event.messageId)) return { state, duplicate: true };
  const parsed = Date.parse(event.timestamp);
  const at = Number.isNaN(parsed) ? now : parsed;
  const horizon = Math.max(state.horizon, now, at);
  // A journey's updateProfile (an identify of Kairos' own, addressed by profile id) is not the customer being seen, nor
  // is a fact about a mail: an open (mail clients and privacy proxies open mail by themselves), a bounce, a complaint.
  const seen = !(event.type === 'identify' && event.context?.kairos !== undefined) && !(event.type === 'track' && MAIL_FACTS.has(event.event ?? ''));
  const next: ProfileState = {
    ...state,
    horizon,
    ...(seen ? { firstSeenAt: Math.min(state.firstSeenAt ?? at, at), lastSeenAt: Math.max(state.lastSeenAt ?? at, at) } : {}),
    recentMessageIds: rememberMessageIds([...state.recentMessageIds, [at, event.messageId]], model.limits.messageIds),
  };
  const activity = seen && (event.type === 'track' || event.type === 'page' || event.type === 'screen');
  if (activity) next.lastActivityAt = Math.max(state.lastActivityAt ?? at, at);

  const stamp = <T>(value: T): Stamped<T> => ({ value, at, messageId: event.messageId });
  const traits = { ...event.context?.traits, ...(event.type === 'identify' ? event.traits : undefined) };
  const signUp = SIGN_UP_TRAITS.map((name) => traits[name]).find((value) => value !== undefined);
  if (signUp !== undefined) traits.signedUpAt = signUp;
  if (event.type === 'track' && event.event === SIGN_UP_EVENT && traits.signedUpAt === undefined) traits.signedUpAt = event.timestamp;
  if (Object.keys(traits).length > 0) next.traits = setTraits(state.traits, traits, stamp, model);
  const timeZone = event.context?.timezone;
  if (typeof timeZone === 'string') next.timeZone = later(state.timeZone, stamp(timeZone));
  const locale = event.context?.locale;
  if (typeof locale === 'string') next.locale = later(state.locale, stamp(locale));

  const signals = consentSignals(event, at, model.consent);
  if (signals.length > 0) {
    const consent = { ...state.consent };
    for (const signal of signals) consent[signal.key] = applyConsentSignal(consent[signal.key], signal);
    next.consent = consent;
  }

  if (event.type === 'track' && event.event !== undefined) {
    const series = { ...state.series };
    for (const spec of Object.values(model.series)) {
      const { selector } = spec;
      if (selector.event !== event.event || !matchesFilters(selector.where, event.properties, at)) continue;
      if (selector.between !== undefined && (at < selector.between[0] || at >= selector.between[1])) continue;
      series[spec.key] = addToSeries(series[spec.key], spec, at, event.messageId, event.properties);
    }
    next.series = series;
    const scores = { ...state.scores };
    for (const score of Object.values(model.scores)) {
      const points = score.spec.points[event.event];
      if (points === undefined) continue;
      // Without decay a score is one all-time sum, kept under bucket 0. With decay, points go into their bucket as
      // they were worth at its start (raised by the decay from there to the event), so decaying the bucket from its
      // start gives each event's points decayed from its own moment, exactly; sums of buckets stay sums (merges).
      const halfLife = score.spec.halfLife;
      const start = halfLife === undefined ? 0 : Math.floor(at / score.width) * score.width;
      scores[score.key] = addPoints(scores[score.key], start, halfLife === undefined ? points : points * Math.pow(2, (at - start) / halfLife));
    }
    next.scores = scores;
  }
  const engagementPoints = model.engagement.points[event.type === 'track' ? (event.event ?? '') : event.type];
  if (engagementPoints !== undefined) {
    const start = Math.floor(at / model.engagementBucket) * model.engagementBucket;
    next.engagement = addPoints(state.engagement, start, engagementPoints);
  }
  // Pruned even when the horizon stays: an event older than it may have opened a bucket already out of every window.
  return { state: pruneState(next, model), duplicate: false };
}

/**
 * Drops every bucket no rule can see any more as of the state's horizon, and the series and scores no segment asks
 * for any more (so the state stays bounded as definitions change). Done over the whole state, so the state is the
 * same whichever order — or under whichever profile — the events came.
 */
export function pruneState(state: ProfileState, model: ProfileModel): ProfileState {
  const series: ProfileState['series'] = {};
  for (const [key, value] of Object.entries(state.series)) {
    const spec = model.series[key];
    if (spec === undefined) continue;
    series[key] = value.buckets === undefined ? value : { ...value, buckets: pruneBuckets(value.buckets, spec, state.horizon) };
  }
  const scores: ProfileState['scores'] = {};
  for (const [key, buckets] of Object.entries(state.scores)) {
    const score = model.scores[key];
    if (score === undefined) continue;
    scores[key] = score.retention === undefined ? buckets : prunePoints(buckets, score.width, score.retention, state.horizon);
  }
  const engagement = prunePoints(state.engagement, model.engagementBucket, model.engagement.window, state.horizon);
  return { ...state, series, scores, engagement };
}

function prunePoints(buckets: Record<string, number>, width: number, retention: number, horizon: number): Record<string, number> {
  const kept: Record<string, number> = {};
  for (const [start, points] of Object.entries(buckets)) if (Number(start) + width + retention > horizon) kept[start] = points;
  return kept;
}

function addPoints(buckets: Record<string, number> | undefined, start: number, points: number): Record<string, number> {
  return { ...buckets, [start]: (buckets?.[start] ?? 0) + points };
}

function setTraits(
  current: Record<string, Stamped>,
  incoming: Record<string, unknown>,
  stamp: (value: unknown) => Stamped,
  model: ProfileModel,
): Record<string, Stamped> {
  const traits = { ...current };
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    // Bounded state: an oversized value or a trait beyond the cap is not kept (the event itself stays in the log).
    if (JSON.stringify(value).length > model.limits.traitBytes) continue;
    if (traits[name] === undefined && Object.keys(traits).length >= model.limits.traits) continue;
    traits[name] = later(traits[name], stamp(value)) ?? stamp(value);
  }
  return traits;
}

/** The newest `keep` messageIds by event time (then id), so the set is the same whatever order events came in. */
export function rememberMessageIds(entries: Array<[number, string]>, keep: number): Array<[number, string]> {
  const unique = new Map(entries.map((entry) => [entry[1], entry]));
  return [...unique.values()].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0)).slice(0, keep);
}
