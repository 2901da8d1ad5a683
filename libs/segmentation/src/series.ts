import { AggregateSpec } from './rule';
import { SeriesSpec } from './profile-model';
import { Bucket, PropertyAggregate, SeriesState, Stamped, earlier, later } from './profile-state';
import { valueAt } from './comparison';

/** A value of a series at `now`, and the earliest moment time alone can change it. */
export interface SeriesValue<T> {
  value: T;
  changesAt?: number;
}

export function addToSeries(
  series: SeriesState | undefined,
  spec: SeriesSpec,
  at: number,
  messageId: string,
  properties: Record<string, unknown> | undefined,
): SeriesState {
  const stamped = (property: string): Stamped => ({ value: valueAt(properties, property), at, messageId });
  const next: SeriesState = {
    count: (series?.count ?? 0) + 1,
    firstAt: Math.min(series?.firstAt ?? at, at),
    lastAt: Math.max(series?.lastAt ?? at, at),
    recent: newest([...(series?.recent ?? []), at], spec.recent),
    properties: { ...series?.properties },
  };
  // Events without the property leave its aggregate alone: "first coupon" is of the orders that had one.
  const present = spec.properties.filter((property) => valueAt(properties, property) !== undefined);
  for (const property of present) next.properties[property] = foldAggregate(next.properties[property], single(stamped(property)));
  if (spec.buckets !== undefined) {
    const start = Math.floor(at / spec.buckets.width) * spec.buckets.width;
    const buckets = { ...series?.buckets };
    const bucket = buckets[start] ?? { count: 0, properties: {} };
    const properties = { ...bucket.properties };
    for (const property of present) properties[property] = foldAggregate(properties[property], single(stamped(property)));
    buckets[start] = { count: bucket.count + 1, properties };
    // Pruned with the whole state (pruneState), after the event.
    next.buckets = buckets;
  }
  return next;
}

export function mergeSeries(a: SeriesState, b: SeriesState, spec: SeriesSpec): SeriesState {
  const properties: Record<string, PropertyAggregate> = { ...a.properties };
  for (const [name, aggregate] of Object.entries(b.properties)) properties[name] = foldAggregate(properties[name], aggregate);
  const merged: SeriesState = {
    count: a.count + b.count,
    firstAt: Math.min(a.firstAt, b.firstAt),
    lastAt: Math.max(a.lastAt, b.lastAt),
    recent: newest([...a.recent, ...b.recent], spec.recent),
    properties,
  };
  if (spec.buckets !== undefined) {
    const buckets: Record<string, Bucket> = { ...a.buckets };
    for (const [start, bucket] of Object.entries(b.buckets ?? {})) {
      const mine = buckets[start];
      buckets[start] = mine === undefined ? bucket : foldBucket(mine, bucket);
    }
    merged.buckets = buckets; // pruned with the whole merged state (pruneState)
  }
  return merged;
}

/** Drops buckets that have left even the longest window as of `horizon`; they can never count again. */
export function pruneBuckets(buckets: Record<string, Bucket>, spec: SeriesSpec, horizon: number): Record<string, Bucket> {
  if (spec.buckets === undefined) return buckets;
  const { width, retention } = spec.buckets;
  const kept: Record<string, Bucket> = {};
  for (const [start, bucket] of Object.entries(buckets)) if (Number(start) + width + retention > horizon) kept[start] = bucket;
  return kept;
}

/**
 * How many events in the last `window` (inclusive: an event exactly `window` ago still counts, as withinLast).
 * Exact from the latest event times when they suffice, else from buckets (late by up to one bucket width).
 */
export function countWithin(series: SeriesState | undefined, spec: SeriesSpec, window: number, now: number, needed: number): SeriesValue<number> {
  if (series === undefined) return { value: 0 };
  if (needed <= spec.recent || spec.buckets === undefined) {
    const inside = series.recent.filter((time) => time <= now && now - time <= window);
    const upcoming = series.recent.filter((time) => time > now);
    return { value: inside.length, changesAt: earliest([...inside.map((time) => time + window + 1), ...upcoming]) };
  }
  return windowed(series, spec, window, now, (buckets) => buckets.reduce((sum, bucket) => sum + bucket.count, 0));
}

export function aggregateValue(series: SeriesState | undefined, spec: SeriesSpec, aggregate: AggregateSpec, now: number): SeriesValue<unknown> {
  const empty = aggregate.fn === 'count' || aggregate.fn === 'sum' ? 0 : undefined;
  if (series === undefined) return { value: empty };
  const property = aggregate.property;
  const pick = (found: PropertyAggregate | undefined): unknown => {
    if (aggregate.fn === 'count') return 0;
    if (found === undefined) return empty;
    if (aggregate.fn === 'first') return found.first.value;
    if (aggregate.fn === 'last') return found.last.value;
    return found[aggregate.fn];
  };
  if (aggregate.within === undefined) {
    if (aggregate.fn === 'count') return { value: series.count };
    return { value: property === undefined ? empty : pick(series.properties[property]) };
  }
  return windowed(series, spec, aggregate.within, now, (buckets) => {
    if (aggregate.fn === 'count') return buckets.reduce((sum, bucket) => sum + bucket.count, 0);
    if (property === undefined) return empty;
    const folded = buckets.reduce<PropertyAggregate | undefined>((sum, bucket) => foldAggregate(sum, bucket.properties[property]), undefined);
    return pick(folded);
  });
}

function windowed<T>(series: SeriesState, spec: SeriesSpec, window: number, now: number, read: (buckets: Bucket[]) => T): SeriesValue<T> {
  const width = spec.buckets?.width ?? 1;
  const inside: Bucket[] = [];
  const changes: number[] = [];
  for (const [key, bucket] of Object.entries(series.buckets ?? {})) {
    const start = Number(key);
    if (start > now) changes.push(start);
    else if (start + width > now - window) {
      inside.push(bucket);
      changes.push(start + width + window);
    }
  }
  return { value: read(inside), changesAt: earliest(changes) };
}

export function foldAggregate(a: PropertyAggregate | undefined, b: PropertyAggregate): PropertyAggregate;
export function foldAggregate(a: PropertyAggregate | undefined, b: PropertyAggregate | undefined): PropertyAggregate | undefined;
export function foldAggregate(a: PropertyAggregate | undefined, b: PropertyAggregate | undefined): PropertyAggregate | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return {
    n: a.n + b.n,
    sum: a.sum + b.sum,
    min: pickNumber(a.min, b.min, Math.min),
    max: pickNumber(a.max, b.max, Math.max),
    first: earlier(a.first, b.first) ?? a.first,
    last: later(a.last, b.last) ?? a.last,
  };
}

function foldBucket(a: Bucket, b: Bucket): Bucket {
  const properties = { ...a.properties };
  for (const [name, aggregate] of Object.entries(b.properties)) properties[name] = foldAggregate(properties[name], aggregate);
  return { count: a.count + b.count, properties };
}

function single(stamped: Stamped): PropertyAggregate {
  const numeric = typeof stamped.value === 'number' && Number.isFinite(stamped.value) ? stamped.value : undefined;
  return { n: numeric === undefined ? 0 : 1, sum: numeric ?? 0, min: numeric, max: numeric, first: stamped, last: stamped };
}

function pickNumber(a: number | undefined, b: number | undefined, choose: (x: number, y: number) => number): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return choose(a, b);
}

function newest(times: number[], keep: number): number[] {
  return times.sort((x, y) => y - x).slice(0, keep);
}

export function earliest(times: readonly number[]): number | undefined {
  return times.length === 0 ? undefined : Math.min(...times);
}
