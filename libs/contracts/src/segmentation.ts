import { ResolvedEvent } from './identity';

/** What caused a segment change; see schemas/segment-change.v1.schema.json. */
export type SegmentChangeCause =
  | { kind: 'event'; messageId: string }
  | { kind: 'timer' }
  | { kind: 'merge'; loserId: string }
  | { kind: 'backfill' }
  /** The profile was erased: it leaves every segment. */
  | { kind: 'erasure' };

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
  /**
   * Another profile's state was folded into this one (identity merged loserId into profileId). On the loser's own
   * record (profileId = loserId) survivorId says where its state went: it has no state and no segments any more, and
   * records still keyed by it are applied to survivorId from now on.
   */
  | { kind: 'merge'; loserId: string; survivorId?: string }
  /**
   * A new, changed or removed segment was evaluated over stored profiles; the changes carry cause backfill. Published
   * only for a profile the backfill changed. segmentId/version: the first backfilled segment; `segments`: all of them
   * when one release changed several; `release`: the release's fingerprint, which names the input (a profile-model
   * change backfills segments whose versions did not change).
   */
  | { kind: 'backfill'; segmentId: string; version: number; release?: string; segments?: Array<{ segmentId: string; version: number }> }
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

/**
 * Segmentation's internal repartition record (kairos.segmentation.transfers.v1, key = the profile whose writer applies
 * it); see schemas/profile-transfer.v1.schema.json. Written only by segmentation, for itself: the one writer of a
 * profile is the owner of the partition its id hashes to, so work for a profile found on another partition is
 * re-produced keyed by that profile instead of being written from here.
 */
export type ProfileTransferRecord = {
  /** Deterministic: a copy published again after a crash is applied once. */
  transferId: string;
  /** The consumer group that wrote it: a replay under another group ignores it (it makes its own). */
  groupId: string;
  /** The profile it is for (the record key). */
  profileId: string;
  /** Redirect hops so far (a chain A <- B <- C forwards twice); bounded against a cycle. */
  hops: number;
} & (
  | {
      /** A merged-away profile's state, to fold into profileId (the survivor) once. */
      kind: 'state';
      loserId: string;
      mergedAt: string;
      /** The loser's ProfileState (absent: the loser had none yet). */
      state?: { profileId: string; [field: string]: unknown };
      /** Profiles the loser had folded in before: the survivor folds none of them a second time. */
      foldedLosers?: string[];
    }
  /** A resolved event still keyed by a merged-away profile: applied to profileId (the survivor) instead. */
  | { kind: 'event'; loserId: string; event: ResolvedEvent }
  /** Part of an erased component whose state lives on another partition. */
  | { kind: 'erasure'; requestId: string; erasedAt: string }
);
