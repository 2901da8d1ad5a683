const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const WHOLE = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/**
 * "30m", "24h", "14d", "90d", "1d12h" to milliseconds; undefined when the text is not a duration. The units are
 * the ones a marketer writes; months and years are left out on purpose, because their length varies — a recurring
 * trigger says `every: month` instead.
 */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return total;
}

export const DURATION_EXAMPLES = '30m, 24h, 14d, 90d or 1d12h';
