import { pruneState, rememberMessageIds } from './apply-event';
import { mergeConsentRecords } from './consent';
import { ConsentKey, ProfileModel } from './profile-model';
import { ProfileState, SeriesState, Stamped, later } from './profile-state';
import { mergeSeries } from './series';

/**
 * Folds the loser's state into the survivor's (identity merged loser into survivor). Every part of the state is a
 * sum, a minimum, a maximum or a "latest by time" of the events applied, so the result is what the survivor would
 * hold had every event arrived under it: counters and buckets add, the latest trait and the latest explicit consent
 * choice win, the earliest first-seen wins. Not idempotent on its own (counters add): the service must fold a
 * loser once and remember the redirect, as the merge contract says.
 */
export function mergeProfiles(survivor: ProfileState, loser: ProfileState, model: ProfileModel): ProfileState {
  const consent = { ...survivor.consent };
  for (const [key, record] of Object.entries(loser.consent) as Array<[ConsentKey, (typeof consent)[ConsentKey]]>) {
    consent[key] = mergeConsentRecords(consent[key], record);
  }
  const horizon = Math.max(survivor.horizon, loser.horizon);
  const series: Record<string, SeriesState> = { ...survivor.series };
  for (const [key, value] of Object.entries(loser.series)) {
    const mine = series[key];
    const spec = model.series[key];
    // A series no segment asks for any more is dropped by pruneState below.
    if (spec === undefined) continue;
    series[key] = mine === undefined ? value : mergeSeries(mine, value, spec);
  }
  const scores = { ...survivor.scores };
  for (const [key, buckets] of Object.entries(loser.scores)) scores[key] = addBuckets(scores[key], buckets);
  const merged: ProfileState = {
    ...survivor,
    horizon,
    firstSeenAt: pick(survivor.firstSeenAt, loser.firstSeenAt, Math.min),
    lastSeenAt: pick(survivor.lastSeenAt, loser.lastSeenAt, Math.max),
    lastActivityAt: pick(survivor.lastActivityAt, loser.lastActivityAt, Math.max),
    traits: mergeTraits(survivor.traits, loser.traits, model.limits.traits),
    timeZone: later(survivor.timeZone, loser.timeZone),
    locale: later(survivor.locale, loser.locale),
    consent,
    series,
    scores,
    engagement: addBuckets(survivor.engagement, loser.engagement),
    recentMessageIds: rememberMessageIds([...survivor.recentMessageIds, ...loser.recentMessageIds], model.limits.messageIds),
  };
  return pruneState(dropUndefined(merged), model);
}

function mergeTraits(a: Record<string, Stamped>, b: Record<string, Stamped>, limit: number): Record<string, Stamped> {
  const traits = { ...a };
  for (const [name, value] of Object.entries(b)) {
    const mine = traits[name];
    if (mine !== undefined) traits[name] = later(mine, value) ?? mine;
    else if (Object.keys(traits).length < limit) traits[name] = value;
  }
  return traits;
}

function addBuckets(a: Record<string, number> | undefined, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [start, points] of Object.entries(b)) sum[start] = (sum[start] ?? 0) + points;
  return sum;
}

function pick(a: number | undefined, b: number | undefined, choose: (x: number, y: number) => number): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return choose(a, b);
}

/** Optional fields stay absent rather than present as undefined, so a merged state equals an applied one. */
function dropUndefined(state: ProfileState): ProfileState {
  return Object.fromEntries(Object.entries(state).filter(([, value]) => value !== undefined)) as unknown as ProfileState;
}
