import { Comparison, PropertyFilter, Scalar } from './rule';

/** A verdict and, when time alone can turn it, the earliest moment it can (epoch ms). */
export interface Verdict {
  matches: boolean;
  changesAt?: number;
}

/**
 * One comparison of a value (a trait, a property, an aggregate) at `now`. Relative date comparisons
 * (withinLast, moreThanAgo) flip 1 ms after `date + duration`: "within the last 14 days" holds up to and including
 * that instant, "more than 14 days ago" from the next millisecond. Dates ahead (withinNext, moreThanAhead: a contract's
 * end, a trial's) turn at `date - duration` and, for withinNext, 1 ms after the date.
 */
export function compare(test: Comparison, value: unknown, now: number): Verdict {
  switch (test.op) {
    case 'exists':
      return { matches: (value !== undefined && value !== null) === test.value };
    case 'equals':
      return { matches: same(value, test.value) };
    case 'notEquals':
      return { matches: !same(value, test.value) };
    case 'in':
      return { matches: test.values.some((candidate) => same(value, candidate)) };
    case 'contains':
      if (Array.isArray(value)) return { matches: value.some((item) => same(item, test.value)) };
      return { matches: typeof value === 'string' && value.includes(test.value) };
    case 'startsWith':
      return { matches: typeof value === 'string' && value.startsWith(test.value) };
    case 'lessThan':
    case 'atMost':
    case 'greaterThan':
    case 'atLeast':
      return { matches: ordered(test.op, value, test.value) };
    case 'before':
    case 'after': {
      const time = toTime(value);
      if (time === undefined) return { matches: false };
      return { matches: test.op === 'before' ? time < test.day : time >= test.day + DAY_MS };
    }
    case 'withinLast':
    case 'moreThanAgo': {
      const time = toTime(value);
      if (time === undefined) return { matches: false };
      const flip = time + test.ms + 1;
      const old = now >= flip;
      // A date still ahead (a sign-up dated tomorrow) enters "within the last" when it arrives.
      const changesAt = time > now ? time : flip > now ? flip : undefined;
      return { matches: test.op === 'withinLast' ? !old && time <= now : old, changesAt };
    }
    case 'withinNext':
    case 'moreThanAhead': {
      // "Ends within the next 30 days" holds from date - 30 days up to and including the date; "more than 30 days
      // ahead" until date - 30 days.
      const time = toTime(value);
      if (time === undefined) return { matches: false };
      const from = time - test.ms;
      const ahead = now < from;
      if (test.op === 'moreThanAhead') return { matches: ahead, changesAt: ahead ? from : undefined };
      return { matches: !ahead && now <= time, changesAt: ahead ? from : now <= time ? time + 1 : undefined };
    }
  }
}

export function matchesFilters(filters: readonly PropertyFilter[], properties: Record<string, unknown> | undefined, at: number): boolean {
  // Filters judge the event as of its own time: "a date property within the last 7 days" means of the event.
  return filters.every((filter) => compare(filter.test, valueAt(properties, filter.property), at).matches);
}

/** A dotted path into an object: `address.country`, `products.0.sku`. */
export function valueAt(source: unknown, path: string): unknown {
  let current = source;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

export function toTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

const DAY_MS = 86_400_000;

function same(value: unknown, expected: Scalar): boolean {
  if (value === expected) return true;
  // Traits arrive from many SDKs: "5" and 5 are the same answer to a marketer.
  return (typeof value === 'number' || typeof value === 'string') && typeof expected !== 'boolean' && String(value) === String(expected);
}

function ordered(op: 'lessThan' | 'atMost' | 'greaterThan' | 'atLeast', value: unknown, bound: number | string): boolean {
  const pair = comparable(value, bound);
  if (pair === undefined) return false;
  const [left, right] = pair;
  if (op === 'lessThan') return left < right;
  if (op === 'atMost') return left <= right;
  if (op === 'greaterThan') return left > right;
  return left >= right;
}

/** Numbers compare as numbers; a bound that is a date compares the value as a date. */
function comparable(value: unknown, bound: number | string): [number, number] | undefined {
  if (typeof bound === 'number') {
    const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isNaN(number) ? undefined : [number, bound];
  }
  const left = toTime(value);
  const right = toTime(bound);
  return left === undefined || right === undefined ? undefined : [left, right];
}
