import { ConsentKey } from './profile-model';

/**
 * A profile's state: JSON-serialisable (numbers are epoch milliseconds), bounded in size (see ProfileLimits), and a
 * function of the set of events applied — not of their order — so a replay and a merge reach the same state.
 */
export interface ProfileState {
  profileId: string;
  /** Earliest and latest event time seen. */
  firstSeenAt?: number;
  lastSeenAt?: number;
  /** Latest track, page or screen: what "last activity" means to a marketer. */
  lastActivityAt?: number;
  /** The latest of the event times and the `now`s the state was brought to: buckets older than any window at it are gone. */
  horizon: number;
  traits: Record<string, Stamped>;
  /** From context.timezone and context.locale. */
  timeZone?: Stamped<string>;
  locale?: Stamped<string>;
  consent: Partial<Record<ConsentKey, ConsentRecord>>;
  series: Record<string, SeriesState>;
  /** Score key -> bucket start -> points. */
  scores: Record<string, Record<string, number>>;
  /** Bucket start -> engagement points (e-mail opens and clicks, visits). */
  engagement: Record<string, number>;
  /** [event time, messageId] of the latest events, newest first: a redelivered event is recognised by these. */
  recentMessageIds: Array<[number, string]>;
}

/** A value with when it was set; the messageId breaks ties between two values set at the same millisecond. */
export interface Stamped<T = unknown> {
  value: T;
  at: number;
  messageId: string;
}

export interface ConsentProof {
  at: number;
  /** event: an explicit consent event; context: Segment's context.consent.categoryPreferences. */
  source: 'event' | 'context';
  event?: string;
  messageId: string;
  ip?: string;
  userAgent?: string;
  page?: string;
  wording?: string;
  formVersion?: string;
}

/**
 * The latest signal of each kind. Each slot is a maximum (by time, then messageId), so folding two records is
 * order-independent; the status is derived from the slots (see consentStatus).
 */
export interface ConsentRecord {
  grant?: ConsentProof;
  withdrawal?: ConsentProof;
  confirmation?: ConsentProof;
  /** The latest categoryPreferences answer: granted or not. */
  implicit?: ConsentProof & { granted: boolean };
}

export interface PropertyAggregate {
  /** How many numeric values; sum, min and max are over those. */
  n: number;
  sum: number;
  min?: number;
  max?: number;
  first: Stamped;
  last: Stamped;
}

export interface SeriesState {
  count: number;
  firstAt: number;
  lastAt: number;
  /** The latest event times, newest first (at most the series' `recent`). */
  recent: number[];
  /** Property -> all-time aggregate. */
  properties: Record<string, PropertyAggregate>;
  /** Bucket start -> what fell into it, for windowed counts and aggregates. */
  buckets?: Record<string, Bucket>;
}

export interface Bucket {
  count: number;
  properties: Record<string, PropertyAggregate>;
}

export function emptyProfileState(profileId: string): ProfileState {
  return { profileId, horizon: 0, traits: {}, consent: {}, series: {}, scores: {}, engagement: {}, recentMessageIds: [] };
}

/** The later of two stamped values; equal times are decided by messageId so the answer never depends on order. */
export function later<T extends { at: number; messageId: string }>(a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.at !== b.at) return a.at > b.at ? a : b;
  return a.messageId >= b.messageId ? a : b;
}

export function earlier<T extends { at: number; messageId: string }>(a: T | undefined, b: T | undefined): T | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.at !== b.at) return a.at < b.at ? a : b;
  return a.messageId <= b.messageId ? a : b;
}
