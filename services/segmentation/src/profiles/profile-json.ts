import { ProfileState } from '@kairos/segmentation';
import { isProfile, SegmentationState } from './segmentation-state';

/**
 * A profile state as JSON, serialised once however many times it is written: the stored entry, the event's snapshot
 * and its update all carry it (~1.6 KB; one serialisation per event instead of two). States are never mutated: every input
 * makes a new one.
 */
const serialisedProfiles = new WeakMap<ProfileState, string>();
export function profileJson(state: ProfileState): string {
  let json = serialisedProfiles.get(state);
  if (json === undefined) serialisedProfiles.set(state, (json = JSON.stringify(state)));
  return json;
}

/** `value` as JSON with already-serialised fields added. */
export function withSerialised(value: object, fields: Record<string, string>): string {
  const json = JSON.stringify(value);
  const extra = Object.entries(fields).map(([name, field]) => `${JSON.stringify(name)}:${field}`);
  if (extra.length === 0) return json;
  return json === '{}' ? `{${extra.join(',')}}` : `${json.slice(0, -1)},${extra.join(',')}}`;
}

/** The `profiles` store's serialiser: a live profile's entry reuses its profile's JSON. */
export function serialiseEntry(entry: SegmentationState): string {
  if (!isProfile(entry)) return JSON.stringify(entry);
  const { profile, ...rest } = entry;
  return withSerialised(rest, { profile: profileJson(profile) });
}
