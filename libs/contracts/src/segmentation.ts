import { ResolvedEvent } from './identity';

/** What caused a segment change; see schemas/segment-change.v1.schema.json. */
export type SegmentChangeCause = { kind: 'event'; messageId: string } | { kind: 'timer' } | { kind: 'merge'; loserId: string } | { kind: 'backfill' };

/** A profile entered or left a segment (kairos.segments.changes.v1, key profileId); see schemas/segment-change.v1.schema.json. */
export interface SegmentChangeRecord {
  /** Deterministic: profileId/segmentId/version/change/at, so a copy published again after a crash is recognised. */
  changeId: string;
  profileId: string;
  segmentId: string;
  version: number;
  change: 'enter' | 'exit';
  /** ISO 8601: the event time or the timer's due time. */
  at: string;
  cause: SegmentChangeCause;
}

/** The latest state of a profile (kairos.profiles.snapshots.v1, compacted, key profileId); see schemas/profile-snapshot.v1.schema.json. */
export interface ProfileSnapshotRecord {
  profileId: string;
  /** ISO 8601: the clock of the input that produced it. */
  at: string;
  /** The segmentation core's ProfileState, as JSON. */
  state: { profileId: string; [field: string]: unknown };
  /** Segment id -> the version entered under and since when (epoch ms). */
  segments: Record<string, { version: number; since: number }>;
}

/** What segmentation applied to a profile: one record of the ordered stream triggers decide from. */
export type ProfileUpdateInput =
  | { kind: 'event'; event: ResolvedEvent }
  /** The profile's segment timer came due (a time-only segment change). */
  | { kind: 'timer' }
  /** Another profile's state was folded into this one (identity merged loserId into profileId). */
  | { kind: 'merge'; loserId: string }
  /** A new or changed segment was evaluated over stored profiles; the changes carry cause backfill. */
  | { kind: 'backfill'; segmentId: string; version: number }
  /** The profile was erased: state is empty, nothing may be sent to it. */
  | { kind: 'erasure' };

/**
 * One applied input with the profile after it (kairos.profiles.updates.v1, key profileId): in order per profile,
 * so triggers read nothing else to decide; see schemas/profile-update.v1.schema.json.
 */
export interface ProfileUpdateRecord {
  /** Deterministic (profileId and the input's identity), so a republished copy is recognised. */
  updateId: string;
  profileId: string;
  /** ISO 8601: the event time, or the timer's due time. */
  at: string;
  input: ProfileUpdateInput;
  /** The segmentation core's ProfileState after the input, as JSON (absent after an erasure). */
  state?: { profileId: string; [field: string]: unknown };
  /** Segment id -> the version entered under and since when (epoch ms), after the input. */
  segments: Record<string, { version: number; since: number }>;
  /** The segment changes the input caused. */
  changes: SegmentChangeRecord[];
}
