import { GatedJourneys, SplitTally } from '@kairos/journeys';

/** A merged-away profile: its journeys went to `redirect`, and a hand-over still reaching it is forwarded there. */
export interface RedirectEntry {
  redirect: string;
  at: number;
}

/** An erased profile: a hand-over arriving for it later brings nothing back. */
export interface ErasedEntry {
  erased: true;
  at: number;
}

/** One partition's share of an A/B split's tally (key `splitTallyKey`): committed with the instances it counts. */
export interface SplitTallyEntry {
  splitTally: SplitTally;
}

/**
 * A partition's schedule pass (key SCHEDULE_KEY_PREFIX + partition), committed with the profiles it scheduled: `done`
 * is the schedule fingerprint every stored profile was scheduled under; while `target` is set, a pass to it has
 * reached `cursor` (the last key scheduled).
 */
export interface ScheduleProgress {
  done: string;
  target?: string;
  cursor?: string;
}

/** Sorts after every profile id (uuids), so a scan in key order meets it last, and never collides with one. */
export const SCHEDULE_KEY_PREFIX = '~schedules/';

/** What the `journeys` store keeps per profile id, per partition and winner split its share of the tally, and per partition its schedule pass. */
export type TriggersEntry = GatedJourneys | RedirectEntry | ErasedEntry | SplitTallyEntry | { schedules: ScheduleProgress };

export const isJourneys = (entry: TriggersEntry | undefined): entry is GatedJourneys => entry !== undefined && 'instances' in entry;
export const isRedirect = (entry: TriggersEntry | undefined): entry is RedirectEntry => entry !== undefined && 'redirect' in entry;
export const isErased = (entry: TriggersEntry | undefined): entry is ErasedEntry => entry !== undefined && 'erased' in entry;
export const isSplitTally = (entry: TriggersEntry | undefined): entry is SplitTallyEntry => entry !== undefined && 'splitTally' in entry;
export const isScheduleProgress = (entry: TriggersEntry | undefined): entry is { schedules: ScheduleProgress } => entry !== undefined && 'schedules' in entry;
/** A partition's bookkeeping (a split's tally share, a schedule pass), under a key that is never a profile's. */
export const isPartitionEntry = (entry: TriggersEntry | undefined): entry is SplitTallyEntry | { schedules: ScheduleProgress } => isSplitTally(entry) || isScheduleProgress(entry);

/** Redirect hops a hand-over may take (chains A <- B <- C); more means a cycle, which identity never makes. */
export const MAX_HOPS = 32;
