import { ProfileModelBody, SegmentBody, parseDuration } from '@kairos/definitions';
import { AggregateSpec, EventSelector, Rule, ScoreSpec, parseRule } from './rule';

/** What one behavioural series keeps for a profile: decided by the segment definitions, not hard-coded. */
export interface SeriesSpec {
  key: string;
  selector: EventSelector;
  /** How many of the latest event times to keep: exact sliding-window counts up to this many (thresholds + 1). */
  recent: number;
  /** Properties whose all-time sum, min, max, first and last are kept. */
  properties: string[];
  /** Time buckets for windowed aggregates: width and how long a bucket can matter (the longest window). */
  buckets?: { width: number; retention: number };
}

export interface ScoreModel {
  key: string;
  spec: ScoreSpec;
  /** Points are kept in buckets of this width, for this long (decayed to below a millionth after 20 half-lives). */
  width: number;
  retention?: number;
}

export type ConsentKey = 'email.marketing' | 'email.transactional';
export type ConsentSignalKind = 'grant' | 'withdrawal' | 'confirmation';

export interface ConsentModel {
  /** Purposes that are pending after an opt-in until a confirmation event arrives. */
  doubleOptIn: ConsentKey[];
  /** Segment's context.consent.categoryPreferences: category (lower case) -> purposes it stands for. */
  categories: Record<string, ConsentKey[]>;
  /** Explicit consent events: the signal and, unless the event says `properties.purpose`, the purposes. */
  events: Record<string, { signal: ConsentSignalKind; purposes: ConsentKey[] }>;
}

export interface LifecycleModel {
  purchaseEvent: string;
  newFor: number;
  activeWithin: number;
  /** A customer whose last order is older than this is at risk; older than lapsedAfter, lapsed. */
  customerActiveWithin: number;
  lapsedAfter: number;
  repeatFrom: number;
}

export interface EngagementModel {
  /** Points per track event name, or `page` / `screen` for visits. */
  points: Record<string, number>;
  window: number;
  high: number;
  moderate: number;
}

/** Everything applyEvent needs to know about what the segments will ask. Build it once per definitions release. */
export interface ProfileModel {
  series: Record<string, SeriesSpec>;
  scores: Record<string, ScoreModel>;
  consent: ConsentModel;
  lifecycle: LifecycleModel;
  engagement: EngagementModel;
  engagementBucket: number;
  limits: ProfileLimits;
}

export interface ProfileLimits {
  /** Recent messageIds kept per profile for de-duplication. */
  messageIds: number;
  traits: number;
  /** A trait value whose JSON is longer than this is not kept. */
  traitBytes: number;
  /** Upper bound of `recent` per series. */
  recentTimes: number;
  bucketsPerSeries: number;
}

export interface ProfileModelOptions {
  consent?: Partial<ConsentModel>;
  lifecycle?: Partial<LifecycleModel>;
  engagement?: Partial<EngagementModel>;
  limits?: Partial<ProfileLimits>;
}

const day = (text: string): number => parseDuration(text) ?? 0;

export const DEFAULT_CONSENT: ConsentModel = {
  doubleOptIn: ['email.marketing'],
  categories: { marketing: ['email.marketing'], 'email marketing': ['email.marketing'], email: ['email.marketing'] },
  events: {
    Subscribed: { signal: 'grant', purposes: ['email.marketing'] },
    Unsubscribed: { signal: 'withdrawal', purposes: ['email.marketing'] },
    'Subscription Confirmed': { signal: 'confirmation', purposes: ['email.marketing'] },
    // Fed back by dispatch: the one-click unsubscribe, hard bounces, spam complaints, the confirmation link. A complaint
    // withdraws marketing, as dispatch's suppression does: otherwise the complainer stays in the subscriber segments,
    // keeps entering marketing journeys and uses up cap slots on mails dispatch then refuses.
    'Email Unsubscribed': { signal: 'withdrawal', purposes: ['email.marketing'] },
    'Email Bounced': { signal: 'withdrawal', purposes: ['email.marketing', 'email.transactional'] },
    'Email Marked as Spam': { signal: 'withdrawal', purposes: ['email.marketing'] },
    'Double Opt-in Confirmed': { signal: 'confirmation', purposes: ['email.marketing'] },
  },
};

export const DEFAULT_LIFECYCLE: LifecycleModel = {
  purchaseEvent: 'Order Completed',
  newFor: day('30d'),
  activeWithin: day('30d'),
  customerActiveWithin: day('90d'),
  lapsedAfter: day('180d'),
  repeatFrom: 2,
};

export const DEFAULT_ENGAGEMENT: EngagementModel = {
  points: { 'Email Opened': 1, 'Email Clicked': 3, page: 1, screen: 1 },
  window: day('30d'),
  high: 10,
  moderate: 3,
};

export const DEFAULT_LIMITS: ProfileLimits = { messageIds: 256, traits: 256, traitBytes: 4096, recentTimes: 101, bucketsPerSeries: 2000 };

/** Divisors of a day, so buckets line up with the days `between` names. */
const WIDTHS = [1_000, 10_000, 60_000, 600_000, 3_600_000, 21_600_000, 86_400_000];
const BUCKETS_PER_WINDOW = 30;

export function bucketWidth(shortest: number, longest: number, maxBuckets: number): number {
  const fine = WIDTHS.filter((width) => width <= shortest / BUCKETS_PER_WINDOW).pop() ?? WIDTHS[0];
  const bounded = WIDTHS.find((width) => longest / width <= maxBuckets) ?? 86_400_000;
  return Math.max(fine, bounded);
}

/** Parsed rules never change, so each selector's or score's key is computed once, not on every evaluation. */
const keys = new WeakMap<object, string>();
function keyOf(spec: object): string {
  let key = keys.get(spec);
  if (key === undefined) {
    key = JSON.stringify(spec);
    keys.set(spec, key);
  }
  return key;
}

export function seriesKey(selector: EventSelector): string {
  return keyOf(selector);
}

export function scoreKey(spec: ScoreSpec): string {
  return keyOf(spec);
}

/**
 * The options a profile-model definition gives (none: the defaults). Its consent events and categories add to the
 * defaults, a name it repeats replacing the default's meaning; every other field it leaves out keeps the default.
 */
export function profileModelOptions(body: ProfileModelBody | undefined): ProfileModelOptions {
  if (body === undefined) return {};
  const ms = (text: string | undefined) => (text === undefined ? undefined : (parseDuration(text) ?? 0));
  const { consent, lifecycle, engagement } = body;
  const defined = <T extends object>(value: T): Partial<T> => Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
  return {
    consent: defined({
      doubleOptIn: consent?.doubleOptIn,
      events: consent?.events === undefined ? undefined : { ...DEFAULT_CONSENT.events, ...consent.events },
      categories: consent?.categories === undefined ? undefined : { ...DEFAULT_CONSENT.categories, ...Object.fromEntries(Object.entries(consent.categories).map(([name, keys]) => [name.toLowerCase(), keys])) },
    }),
    lifecycle: defined({
      purchaseEvent: lifecycle?.purchaseEvent,
      repeatFrom: lifecycle?.repeatFrom,
      newFor: ms(lifecycle?.newFor),
      activeWithin: ms(lifecycle?.activeWithin),
      customerActiveWithin: ms(lifecycle?.customerActiveWithin),
      lapsedAfter: ms(lifecycle?.lapsedAfter),
    }),
    engagement: defined({ points: engagement?.points, window: ms(engagement?.window), high: engagement?.high, moderate: engagement?.moderate }),
  };
}

export function buildProfileModel(segments: readonly SegmentBody[], options: ProfileModelOptions = {}): ProfileModel {
  return buildModelFromRules(segments.map((segment) => parseRule(segment.rule)), options);
}

export function buildModelFromRules(rules: readonly Rule[], options: ProfileModelOptions = {}): ProfileModel {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const lifecycle = { ...DEFAULT_LIFECYCLE, ...options.lifecycle };
  const engagement = { ...DEFAULT_ENGAGEMENT, ...options.engagement };
  const needs = new Map<string, { selector: EventSelector; recent: number; properties: Set<string>; windows: number[] }>();
  const scores: Record<string, ScoreModel> = {};
  const need = (selector: EventSelector) => {
    const key = seriesKey(selector);
    const found = needs.get(key) ?? { selector, recent: 1, properties: new Set<string>(), windows: [] };
    needs.set(key, found);
    return found;
  };
  // Lifecycle needs the purchase event's count and last time, whatever the segments say.
  need({ event: lifecycle.purchaseEvent, where: [] });
  const visit = (rule: Rule): void => {
    switch (rule.kind) {
      case 'all':
      case 'any':
        rule.rules.forEach(visit);
        return;
      case 'not':
        visit(rule.rule);
        return;
      case 'performed': {
        const series = need(rule.selector);
        if (rule.within !== undefined) {
          const largest = Math.max(rule.atLeast ?? 1, rule.atMost ?? 0, rule.exactly ?? 0);
          series.recent = Math.max(series.recent, Math.min(largest + 1, limits.recentTimes));
          // Beyond what `recent` can answer exactly, the count comes from buckets.
          if (largest + 1 > limits.recentTimes) series.windows.push(rule.within);
        }
        return;
      }
      case 'notPerformed':
        need(rule.selector);
        return;
      case 'aggregate':
        addAggregate(need(rule.aggregate.selector), rule.aggregate);
        return;
      case 'score':
        scores[scoreKey(rule.score)] ??= scoreModel(rule.score, limits);
        return;
      default:
        return;
    }
  };
  rules.forEach(visit);
  const series: Record<string, SeriesSpec> = {};
  for (const [key, found] of needs) {
    const spec: SeriesSpec = { key, selector: found.selector, recent: found.recent, properties: [...found.properties].sort() };
    if (found.windows.length > 0) {
      const longest = Math.max(...found.windows);
      spec.buckets = { width: bucketWidth(Math.min(...found.windows), longest, limits.bucketsPerSeries), retention: longest };
    }
    series[key] = spec;
  }
  return {
    series,
    scores,
    consent: { ...DEFAULT_CONSENT, ...options.consent },
    lifecycle,
    engagement,
    engagementBucket: bucketWidth(engagement.window, engagement.window, limits.bucketsPerSeries),
    limits,
  };
}

function addAggregate(series: { properties: Set<string>; windows: number[] }, aggregate: AggregateSpec): void {
  if (aggregate.property !== undefined) series.properties.add(aggregate.property);
  if (aggregate.within !== undefined) series.windows.push(aggregate.within);
}

function scoreModel(spec: ScoreSpec, limits: ProfileLimits): ScoreModel {
  if (spec.halfLife === undefined) return { key: scoreKey(spec), spec, width: 86_400_000 };
  const retention = spec.halfLife * 20;
  return { key: scoreKey(spec), spec, width: bucketWidth(spec.halfLife, retention, limits.bucketsPerSeries), retention };
}
