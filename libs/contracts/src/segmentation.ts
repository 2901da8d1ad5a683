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
