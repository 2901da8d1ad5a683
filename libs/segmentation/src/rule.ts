import { Condition, parseDuration } from '@kairos/definitions';

/**
 * The segment rule language of libs/definitions, typed. Definitions arrive validated against the segment schema
 * (`Condition` is a plain record there), so `parseRule` only narrows; it still throws on a shape the schema would
 * refuse, because a record another tool wrote is not to be trusted blindly.
 */
export type Scalar = string | number | boolean;

/** One comparison, as trait, aggregate, score and property filters share it. Times are epoch milliseconds. */
export type Comparison =
  | { op: 'equals' | 'notEquals'; value: Scalar }
  | { op: 'lessThan' | 'atMost' | 'greaterThan' | 'atLeast'; value: number | string }
  | { op: 'in'; values: Scalar[] }
  | { op: 'contains' | 'startsWith'; value: string }
  | { op: 'exists'; value: boolean }
  | { op: 'before' | 'after'; day: number }
  | { op: 'withinLast' | 'moreThanAgo' | 'withinNext' | 'moreThanAhead'; ms: number };

export interface PropertyFilter {
  property: string;
  test: Comparison;
}

/** What a behavioural series counts: one event name, with property filters, optionally only between two days. */
export interface EventSelector {
  event: string;
  where: PropertyFilter[];
  /** [from, to): from the start of the first day to the end of the second (UTC). */
  between?: [number, number];
}

export type AggregateFunction = 'count' | 'sum' | 'min' | 'max' | 'first' | 'last';

export interface AggregateSpec {
  fn: AggregateFunction;
  /** The property (absent for count). */
  property?: string;
  selector: EventSelector;
  within?: number;
}

export interface ScoreSpec {
  points: Record<string, number>;
  halfLife?: number;
}

export type LifecycleStage = 'new' | 'active' | 'at-risk' | 'lapsed' | 'customer' | 'repeat-customer';
export type EngagementLevel = 'high' | 'moderate' | 'passive';
export type ConsentChannel = 'email';
export type ConsentPurpose = 'marketing' | 'transactional';
export type ConsentStatus = 'granted' | 'pending' | 'withdrawn';

export type Rule =
  | { kind: 'trait'; trait: string; test: Comparison }
  | { kind: 'performed'; selector: EventSelector; atLeast?: number; atMost?: number; exactly?: number; within?: number }
  | { kind: 'notPerformed'; selector: EventSelector; within?: number }
  | { kind: 'aggregate'; aggregate: AggregateSpec; test: Comparison }
  | { kind: 'score'; score: ScoreSpec; test: Comparison }
  | { kind: 'lifecycle'; stages: LifecycleStage[] }
  | { kind: 'engagement'; levels: EngagementLevel[] }
  | { kind: 'consent'; channel: ConsentChannel; purpose: ConsentPurpose; status: ConsentStatus }
  | { kind: 'inSegment'; segment: string }
  /** A property of the event that triggered a journey (journeys only: a segment has no triggering event). */
  | { kind: 'eventProperty'; property: string; test: Comparison }
  | { kind: 'all' | 'any'; rules: Rule[] }
  | { kind: 'not'; rule: Rule };

const COMPARISON_KEYS = [
  'equals', 'notEquals', 'lessThan', 'atMost', 'greaterThan', 'atLeast', 'in', 'contains', 'startsWith', 'exists',
  'before', 'after', 'withinLast', 'moreThanAgo', 'withinNext', 'moreThanAhead',
] as const;
const AGGREGATE_FUNCTIONS: readonly AggregateFunction[] = ['count', 'sum', 'min', 'max', 'first', 'last'];

export function parseRule(condition: Condition): Rule {
  if ('all' in condition || 'any' in condition) {
    const kind = 'all' in condition ? 'all' : 'any';
    return { kind, rules: list(condition[kind], kind).map((c) => parseRule(record(c, kind))) };
  }
  if ('not' in condition) return { kind: 'not', rule: parseRule(record(condition.not, 'not')) };
  if ('trait' in condition) return { kind: 'trait', trait: text(condition.trait, 'trait'), test: parseComparison(condition) };
  if ('eventProperty' in condition) return { kind: 'eventProperty', property: text(condition.eventProperty, 'eventProperty'), test: parseComparison(condition) };
  if ('performed' in condition) {
    const rule: Rule = { kind: 'performed', selector: selector(condition.performed, condition), within: window(condition) };
    for (const key of ['atLeast', 'atMost', 'exactly'] as const) {
      if (condition[key] !== undefined) rule[key] = count(condition[key], key);
    }
    return rule;
  }
  if ('notPerformed' in condition) {
    return { kind: 'notPerformed', selector: selector(condition.notPerformed, condition), within: window(condition) };
  }
  if ('aggregate' in condition) return { kind: 'aggregate', aggregate: parseAggregate(record(condition.aggregate, 'aggregate')), test: parseComparison(condition) };
  if ('score' in condition) {
    const score = record(condition.score, 'score');
    const halfLife = score.halfLife === undefined ? undefined : duration(score.halfLife, 'halfLife');
    return { kind: 'score', score: { points: record(score.points, 'points') as Record<string, number>, halfLife }, test: parseComparison(condition) };
  }
  if ('lifecycle' in condition) return { kind: 'lifecycle', stages: list(condition.lifecycle, 'lifecycle') as LifecycleStage[] };
  if ('engagement' in condition) return { kind: 'engagement', levels: list(condition.engagement, 'engagement') as EngagementLevel[] };
  if ('consent' in condition) {
    const consent = record(condition.consent, 'consent');
    return {
      kind: 'consent',
      channel: consent.channel as ConsentChannel,
      purpose: consent.purpose as ConsentPurpose,
      status: (consent.status as ConsentStatus | undefined) ?? 'granted',
    };
  }
  if ('inSegment' in condition) return { kind: 'inSegment', segment: text(condition.inSegment, 'inSegment') };
  throw new Error(`not a segment rule: ${JSON.stringify(condition)}`);
}

export function parseComparison(source: Record<string, unknown>): Comparison {
  const op = COMPARISON_KEYS.find((key) => source[key] !== undefined);
  const value = op === undefined ? undefined : source[op];
  switch (op) {
    case 'equals':
    case 'notEquals':
      return { op, value: value as Scalar };
    case 'lessThan':
    case 'atMost':
    case 'greaterThan':
    case 'atLeast':
      return { op, value: value as number | string };
    case 'in':
      return { op, values: list(value, 'in') as Scalar[] };
    case 'contains':
    case 'startsWith':
      return { op, value: text(value, op) };
    case 'exists':
      return { op, value: value === true };
    case 'before':
    case 'after':
      return { op, day: day(value, op) };
    case 'withinLast':
    case 'moreThanAgo':
    case 'withinNext':
    case 'moreThanAhead':
      return { op, ms: duration(value, op) };
    default:
      throw new Error(`no comparison in ${JSON.stringify(source)}`);
  }
}

function parseAggregate(source: Record<string, unknown>): AggregateSpec {
  const fn = AGGREGATE_FUNCTIONS.find((name) => source[name] !== undefined);
  if (fn === undefined) throw new Error(`aggregate without a function: ${JSON.stringify(source)}`);
  // `count: Order Completed` names the event; the others name a property and say the event in `of`.
  const event = fn === 'count' ? text(source.count, 'count') : text(source.of, 'of');
  return {
    fn,
    property: fn === 'count' ? undefined : text(source[fn], fn),
    selector: selector(event, source),
    within: window(source),
  };
}

function selector(event: unknown, source: Record<string, unknown>): EventSelector {
  const where = source.where === undefined ? [] : list(source.where, 'where').map((f) => {
    const filter = record(f, 'where');
    return { property: text(filter.property, 'property'), test: parseComparison(filter) };
  });
  const result: EventSelector = { event: text(event, 'event'), where };
  if (source.between !== undefined) {
    const [from, to] = list(source.between, 'between');
    result.between = [day(from, 'between'), day(to, 'between') + DAY_MS];
  }
  return result;
}

const DAY_MS = 86_400_000;

function window(source: Record<string, unknown>): number | undefined {
  return source.within === undefined ? undefined : duration(source.within, 'within');
}

function duration(value: unknown, key: string): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) throw new Error(`${key}: not a duration: ${String(value)}`);
  return ms;
}

function day(value: unknown, key: string): number {
  const ms = typeof value === 'string' ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms)) throw new Error(`${key}: not a date: ${String(value)}`);
  return ms;
}

function count(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Error(`${key}: not a count: ${String(value)}`);
  return value;
}

function text(value: unknown, key: string): string {
  if (typeof value !== 'string') throw new Error(`${key}: not a text: ${String(value)}`);
  return value;
}

function list(value: unknown, key: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${key}: not a list`);
  return value;
}

function record(value: unknown, key: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${key}: not an object`);
  return value as Record<string, unknown>;
}
