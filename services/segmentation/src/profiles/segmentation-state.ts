import { Memberships, ProfileState } from '@kairos/segmentation';

/** A live profile: its state, its memberships, and the losers already folded into it (a transfer is folded once). */
export interface ProfileEntry {
  profile: ProfileState;
  memberships: Memberships;
  foldedLosers?: string[];
  /** The fingerprint of the release the memberships were last evaluated under (a backfill to it skips the profile). */
  release?: string;
  /**
   * The latest moment the memberships were judged at (never past the wall clock of that moment): a later input is
   * judged at this moment if its own time is earlier, so a late event does not judge the segments in the past.
   */
  evaluatedAt?: number;
}

/** A merged-away profile: its state went to `redirect`, and records still keyed by it are applied there. */
export interface RedirectEntry {
  redirect: string;
  at: number;
}

/** An erased profile: nothing arriving for it later (a transfer in flight, a late event) brings it back. */
export interface ErasedEntry {
  erased: string;
  at: number;
}

/** Segment id -> version. */
export type SegmentVersions = Record<string, number>;

/**
 * A partition's backfill progress, stored under BACKFILL_KEY_PREFIX + partition in the same transactions as the
 * profiles it evaluated: `done` are the versions every stored profile was evaluated under; while `target` is set, a
 * backfill to it has reached `cursor` (the last key evaluated).
 */
export interface BackfillProgress {
  backfill: true;
  done: SegmentVersions;
  target?: SegmentVersions;
  cursor?: string;
}

/** Sorts after every profile id (uuids), so a scan in key order meets it last, and never collides with one. */
export const BACKFILL_KEY_PREFIX = '~backfill/';

/** What the `profiles` store keeps per key. */
export type SegmentationState = ProfileEntry | RedirectEntry | ErasedEntry | BackfillProgress;

export const isProfile = (entry: SegmentationState | undefined): entry is ProfileEntry => entry !== undefined && 'profile' in entry;
export const isRedirect = (entry: SegmentationState | undefined): entry is RedirectEntry => entry !== undefined && 'redirect' in entry;
export const isErased = (entry: SegmentationState | undefined): entry is ErasedEntry => entry !== undefined && 'erased' in entry;

/** Losers remembered per survivor: enough for any real merge history, bounded against a pathological one. */
export const FOLDED_LOSERS_LIMIT = 1_000;

/** Redirect hops a forwarded record may take (chains A <- B <- C); more means a cycle, which identity never makes. */
export const MAX_HOPS = 32;
