/**
 * Wall-clock arithmetic in a profile's time zone, with Intl only (no time-zone database of our own). Instants are
 * epoch milliseconds; a local time is what a clock on the customer's wall shows.
 */
export interface LocalDateTime {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(timeZone: string): Intl.DateTimeFormat {
  let found = formats.get(timeZone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formats.set(timeZone, found);
  }
  return found;
}

/** A time zone Intl knows, else UTC: a profile's bad `context.timezone` must not stop its journeys. */
export function knownTimeZone(timeZone: string | undefined, fallback = 'UTC'): string {
  if (timeZone === undefined || timeZone === '') return fallback;
  try {
    format(timeZone);
    return timeZone;
  } catch {
    return fallback;
  }
}

function exactOffset(at: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of format(timeZone).formatToParts(new Date(at))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return asUtc - (at - (((at % 1000) + 1000) % 1000));
}

const HOUR = 3_600_000;
/** Zone offsets by (zone, UTC hour), for hours without a change inside: Intl's formatToParts is slow. */
const offsets = new Map<string, number | null>();

/** The zone's offset from UTC at an instant, in ms. */
function offsetAt(at: number, timeZone: string): number {
  const hour = Math.floor(at / HOUR);
  const key = `${timeZone}|${hour}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    const first = exactOffset(hour * HOUR, timeZone);
    // An hour with a change inside it (a zone that shifts at a half hour) is computed exactly every time.
    offset = first === exactOffset(hour * HOUR + HOUR - 1_000, timeZone) ? first : null;
    if (offsets.size > 100_000) offsets.clear();
    offsets.set(key, offset);
  }
  return offset ?? exactOffset(at, timeZone);
}

export function toLocal(at: number, timeZone: string): LocalDateTime & { second: number } {
  const shifted = new Date(at + offsetAt(at, timeZone));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate(), hour: shifted.getUTCHours(), minute: shifted.getUTCMinutes(), second: shifted.getUTCSeconds() };
}

/**
 * The instant a local time happens. A time skipped by a spring-forward gap maps to the instant after the gap; a time
 * that happens twice in the autumn maps to the first.
 */
export function fromLocal(local: LocalDateTime, timeZone: string): number {
  const naive = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const first = naive - offsetAt(naive, timeZone);
  const second = naive - offsetAt(first, timeZone);
  if (second === first) return first;
  // Two candidates: take the earlier one that really shows this local time, else (a gap) the later one.
  const candidates = [Math.min(first, second), Math.max(first, second)];
  for (const candidate of candidates) {
    const shown = toLocal(candidate, timeZone);
    if (shown.hour === local.hour && shown.minute === local.minute && shown.day === local.day) return candidate;
  }
  return Math.max(first, second);
}

const DAY_MS = 86_400_000;

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** "HH:MM" -> minutes after midnight. */
export function parseTimeOfDay(text: string): { hour: number; minute: number } {
  const match = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(text);
  if (match === null) throw new Error(`not a time of day (HH:MM): ${text}`);
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

/** The first instant strictly after `after` at which the local clock shows `time`. */
export function nextLocalTime(after: number, time: { hour: number; minute: number }, timeZone: string): number {
  const local = toLocal(after, timeZone);
  for (let days = 0; days < 3; days++) {
    const day = new Date(Date.UTC(local.year, local.month - 1, local.day + days));
    const candidate = fromLocal({ year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), ...time }, timeZone);
    if (candidate > after) return candidate;
  }
  throw new Error(`no ${time.hour}:${time.minute} in ${timeZone} after ${new Date(after).toISOString()}`);
}

/**
 * Whether `at` falls into the quiet hours [start, end) of the local clock (a window may wrap midnight: 21:00-08:00),
 * and if so the instant they end.
 */
export function quietUntil(at: number, window: { start: { hour: number; minute: number }; end: { hour: number; minute: number } }, timeZone: string): number | undefined {
  const local = toLocal(at, timeZone);
  const minute = local.hour * 60 + local.minute;
  const start = window.start.hour * 60 + window.start.minute;
  const end = window.end.hour * 60 + window.end.minute;
  const quiet = start <= end ? minute >= start && minute < end : minute >= start || minute < end;
  return quiet ? nextLocalTime(at, window.end, timeZone) : undefined;
}

/** A calendar date (YYYY-MM-DD or an ISO instant, whose date part is taken as written) -> [year, month, day]. */
export function calendarDate(value: unknown): { year: number; month: number; day: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  return { year, month, day };
}

/**
 * The next occurrence of a recurring date strictly after `after`: yearly on the date's month and day, or monthly on
 * its day, at a local time, shifted by an offset. A day the month lacks falls back to its last day (29 February ->
 * 28 February; the 31st -> the 30th). The offset's whole days move the calendar date, so "30 days before, at 09:00" is
 * 09:00 on the local clock also across a change to or from summer time; what is left of it (hours) moves the instant.
 */
export function nextOccurrence(
  date: { month: number; day: number },
  every: 'year' | 'month',
  time: { hour: number; minute: number },
  offsetMs: number,
  after: number,
  timeZone: string,
): number {
  const offsetDays = Math.trunc(offsetMs / DAY_MS);
  const rest = offsetMs - offsetDays * DAY_MS;
  // The occurrence happens at local(date + offset days) + rest > after, so search from the local date of after - offset.
  const from = toLocal(after - offsetMs, timeZone);
  for (let step = -1; step < 30; step++) {
    const year = every === 'year' ? from.year + step : from.year + Math.floor((from.month - 1 + step) / 12);
    const month = every === 'year' ? date.month : ((((from.month - 1 + step) % 12) + 12) % 12) + 1;
    const day = new Date(Date.UTC(year, month - 1, Math.min(date.day, daysInMonth(year, month)) + offsetDays));
    const candidate = fromLocal({ year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), ...time }, timeZone) + rest;
    if (candidate > after) return candidate;
  }
  throw new Error('no occurrence found');
}
