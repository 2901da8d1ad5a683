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

/** What the `journeys` store keeps per profile id, and per partition and winner split its share of the tally. */
export type TriggersEntry = GatedJourneys | RedirectEntry | ErasedEntry | SplitTallyEntry;

export const isJourneys = (entry: TriggersEntry | undefined): entry is GatedJourneys => entry !== undefined && 'instances' in entry;
export const isRedirect = (entry: TriggersEntry | undefined): entry is RedirectEntry => entry !== undefined && 'redirect' in entry;
export const isErased = (entry: TriggersEntry | undefined): entry is ErasedEntry => entry !== undefined && 'erased' in entry;
export const isSplitTally = (entry: TriggersEntry | undefined): entry is SplitTallyEntry => entry !== undefined && 'splitTally' in entry;

/** Redirect hops a hand-over may take (chains A <- B <- C); more means a cycle, which identity never makes. */
export const MAX_HOPS = 32;
