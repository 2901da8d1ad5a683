import { fromLocal, knownTimeZone, nextLocalTime, nextOccurrence, quietUntil } from './local-time';
import { checkCaps, DEFAULT_GUARD_RAILS } from './guard-rails';

describe('local time in the profile time zone', () => {
  it('maps a local time to the instant, across daylight-saving changes', () => {
    expect(new Date(fromLocal({ year: 2026, month: 1, day: 15, hour: 9, minute: 0 }, 'Europe/Zurich')).toISOString()).toBe('2026-01-15T08:00:00.000Z');
    expect(new Date(fromLocal({ year: 2026, month: 7, day: 15, hour: 9, minute: 0 }, 'Europe/Zurich')).toISOString()).toBe('2026-07-15T07:00:00.000Z');
    // 02:30 does not exist on 29 March 2026 in Zurich: the instant after the gap.
    expect(new Date(fromLocal({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Zurich')).toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });

  it('the next local time of day is strictly later', () => {
    const at = Date.parse('2026-03-02T09:00:00Z');
    expect(new Date(nextLocalTime(at, { hour: 9, minute: 0 }, 'UTC')).toISOString()).toBe('2026-03-03T09:00:00.000Z');
    expect(new Date(nextLocalTime(at, { hour: 10, minute: 0 }, 'Asia/Tokyo')).toISOString()).toBe('2026-03-03T01:00:00.000Z');
  });

  it('29 February falls back to 28 February in a non-leap year, with an offset before the date', () => {
    const after = Date.parse('2026-01-01T00:00:00Z');
    expect(new Date(nextOccurrence({ month: 2, day: 29 }, 'year', { hour: 9, minute: 0 }, 0, after, 'UTC')).toISOString()).toBe('2026-02-28T09:00:00.000Z');
    expect(new Date(nextOccurrence({ month: 2, day: 29 }, 'year', { hour: 9, minute: 0 }, -30 * 86_400_000, after, 'UTC')).toISOString()).toBe('2026-01-29T09:00:00.000Z');
  });

  it('an offset in days keeps the local time across a change to summer time, and may cross into another month', () => {
    // Contract end 15 April 2027 (summer time), 30 days before at 09:00 in Zurich: 16 March, still winter time.
    const after = Date.parse('2027-01-01T00:00:00Z');
    expect(new Date(nextOccurrence({ month: 4, day: 15 }, 'year', { hour: 9, minute: 0 }, -30 * 86_400_000, after, 'Europe/Zurich')).toISOString()).toBe('2027-03-16T08:00:00.000Z');
    // Monthly on the 1st, a day before: the last day of the month before; hours left over move the instant.
    expect(new Date(nextOccurrence({ month: 1, day: 1 }, 'month', { hour: 9, minute: 0 }, -86_400_000, Date.parse('2027-03-05T00:00:00Z'), 'UTC')).toISOString()).toBe('2027-03-31T09:00:00.000Z');
    expect(new Date(nextOccurrence({ month: 1, day: 1 }, 'month', { hour: 9, minute: 0 }, -36 * 3_600_000, Date.parse('2027-03-05T00:00:00Z'), 'UTC')).toISOString()).toBe('2027-03-30T21:00:00.000Z');
  });

  it('quiet hours wrap midnight; an unknown time zone falls back', () => {
    const window = { start: { hour: 21, minute: 0 }, end: { hour: 8, minute: 0 } };
    expect(quietUntil(Date.parse('2026-03-02T12:00:00Z'), window, 'UTC')).toBeUndefined();
    expect(new Date(quietUntil(Date.parse('2026-03-02T03:00:00Z'), window, 'UTC') ?? 0).toISOString()).toBe('2026-03-02T08:00:00.000Z');
    expect(knownTimeZone('Mars/Olympus')).toBe('UTC');
  });
});

describe('frequency caps', () => {
  it('names the rule and the earliest allowed moment', () => {
    const h = 3_600_000;
    const sent = [0, 20 * h, 40 * h].map((at, n) => ({ at, channel: 'email' as const, purpose: 'marketing' as const, dispatchId: `d${n}` }));
    expect(checkCaps(sent, 'email', 'marketing', 50 * h, DEFAULT_GUARD_RAILS)).toEqual({ rule: 'email marketing: at most 3 per 7d, none within 16h of the last', allowedAt: 168 * h });
    expect(checkCaps(sent, 'email', 'transactional', 50 * h, DEFAULT_GUARD_RAILS)).toBeUndefined();
  });
});
