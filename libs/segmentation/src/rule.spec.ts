import { applyEvent } from './apply-event';
import { compare } from './comparison';
import { evaluateRule } from './evaluate-rule';
import { compileSegments } from './evaluate-segments';
import { buildModelFromRules } from './profile-model';
import { emptyProfileState } from './profile-state';
import { Rule, parseRule } from './rule';
import { DAY, T0, identify, track } from './testing/profile-events';

describe('parseRule', () => {
  it('reads the language of libs/definitions into typed rules', () => {
    expect(parseRule({ performed: 'Order Completed', where: [{ property: 'total', atLeast: 50 }], atLeast: 2, within: '30d', between: ['2026-01-01', '2026-01-31'] })).toEqual({
      kind: 'performed',
      selector: { event: 'Order Completed', where: [{ property: 'total', test: { op: 'atLeast', value: 50 } }], between: [T0, T0 + 31 * DAY] },
      within: 30 * DAY,
      atLeast: 2,
    });
    expect(parseRule({ not: { consent: { channel: 'email', purpose: 'marketing' } } })).toEqual({
      kind: 'not',
      rule: { kind: 'consent', channel: 'email', purpose: 'marketing', status: 'granted' },
    });
  });

  it('refuses what the schema refuses', () => {
    expect(() => parseRule({ trait: 'plan' })).toThrow('no comparison');
    expect(() => parseRule({ performed: 'X', within: '3 months' })).toThrow('not a duration');
    expect(() => parseRule({ whatever: 1 })).toThrow('not a segment rule');
  });
});

describe('compare', () => {
  const now = T0 + 10 * DAY;
  const check = (condition: Record<string, unknown>, value: unknown) => {
    const rule = parseRule({ trait: 't', ...condition }) as Extract<Rule, { kind: 'trait' }>;
    return compare(rule.test, value, now).matches;
  };

  it('covers every trait operator', () => {
    expect(check({ equals: 'pro' }, 'pro')).toBe(true);
    expect(check({ equals: 5 }, '5')).toBe(true);
    expect(check({ notEquals: 'pro' }, 'free')).toBe(true);
    expect(check({ lessThan: 10 }, 9)).toBe(true);
    expect(check({ atMost: 10 }, 10)).toBe(true);
    expect(check({ greaterThan: 10 }, 10)).toBe(false);
    expect(check({ atLeast: '2026-01-05' }, '2026-01-06T00:00:00Z')).toBe(true);
    expect(check({ in: ['CH', 'DE'] }, 'CH')).toBe(true);
    expect(check({ contains: 'vip' }, ['new', 'vip'])).toBe(true);
    expect(check({ contains: 'zur' }, 'zurich')).toBe(true);
    expect(check({ startsWith: '+41' }, '+41791234567')).toBe(true);
    expect(check({ exists: true }, undefined)).toBe(false);
    expect(check({ exists: false }, undefined)).toBe(true);
    expect(check({ before: '2026-01-02' }, '2026-01-01T23:59:59Z')).toBe(true);
    expect(check({ after: '2026-01-01' }, '2026-01-01T23:59:59Z')).toBe(false);
    expect(check({ withinLast: '10d' }, T0)).toBe(true);
    expect(check({ moreThanAgo: '10d' }, T0)).toBe(false);
    expect(check({ moreThanAgo: '9d' }, T0)).toBe(true);
    expect(check({ withinNext: '10d' }, T0 + 20 * DAY)).toBe(true);
    expect(check({ withinNext: '5d' }, T0 + 20 * DAY)).toBe(false);
    expect(check({ moreThanAhead: '5d' }, T0 + 20 * DAY)).toBe(true);
  });

  it('says when a relative date comparison flips', () => {
    const withinLast = parseRule({ trait: 't', withinLast: '10d' }) as Extract<Rule, { kind: 'trait' }>;
    expect(compare(withinLast.test, T0, now)).toEqual({ matches: true, changesAt: T0 + 10 * DAY + 1 });
    expect(compare(withinLast.test, T0 + 12 * DAY, now)).toEqual({ matches: false, changesAt: T0 + 12 * DAY });
    expect(compare(withinLast.test, T0 - DAY, now)).toEqual({ matches: false, changesAt: undefined });
    // A contract ending on day 30: within the next 10 days from day 20 through day 30, then never again.
    const withinNext = parseRule({ trait: 't', withinNext: '10d' }) as Extract<Rule, { kind: 'trait' }>;
    const end = T0 + 30 * DAY;
    expect(compare(withinNext.test, end, T0)).toEqual({ matches: false, changesAt: T0 + 20 * DAY });
    expect(compare(withinNext.test, end, T0 + 20 * DAY)).toEqual({ matches: true, changesAt: end + 1 });
    expect(compare(withinNext.test, end, end + 1)).toEqual({ matches: false, changesAt: undefined });
    const moreThanAhead = parseRule({ trait: 't', moreThanAhead: '10d' }) as Extract<Rule, { kind: 'trait' }>;
    expect(compare(moreThanAhead.test, end, T0)).toEqual({ matches: true, changesAt: T0 + 20 * DAY });
    expect(compare(moreThanAhead.test, end, T0 + 20 * DAY)).toEqual({ matches: false, changesAt: undefined });
  });
});

describe('behaviour over windows', () => {
  it('counts beyond the exact recent times from buckets, and windowed sums from buckets', () => {
    const rules = [
      parseRule({ performed: 'Page Read', atLeast: 5, within: '10d' }),
      parseRule({ aggregate: { sum: 'amount', of: 'Donated', within: '7d' }, atLeast: 100 }),
      parseRule({ performed: 'Order Completed', between: ['2026-01-03', '2026-01-04'], exactly: 2 }),
    ];
    const model = buildModelFromRules(rules, { limits: { recentTimes: 3 } });
    const events = [
      ...[1, 2, 3, 4, 5].map((day) => track('Page Read', day)),
      track('Donated', 1, { amount: 60 }),
      track('Donated', 4, { amount: 50 }),
      track('Order Completed', 2),
      track('Order Completed', 3),
      track('Order Completed', 4.5),
      track('Order Completed', 5),
    ];
    const state = events.reduce((s, e) => applyEvent(s, e, model, T0 + 5 * DAY).state, emptyProfileState('p'));
    const at = (day: number, rule: Rule) => evaluateRule(rule, { state, model, now: T0 + day * DAY }).matches;
    expect(at(6, rules[0])).toBe(true);
    expect(at(12, rules[0])).toBe(false);
    expect(at(6, rules[1])).toBe(true);
    expect(at(9, rules[1])).toBe(false);
    expect(at(9, rules[2])).toBe(true);
  });

  it('reads nested traits by a dotted path', () => {
    const model = buildModelFromRules([]);
    const state = applyEvent(emptyProfileState('p'), identify({ address: { country: 'CH' } }, 1), model, T0).state;
    expect(evaluateRule(parseRule({ trait: 'address.country', equals: 'CH' }), { state, model, now: T0 }).matches).toBe(true);
  });
});

describe('compileSegments', () => {
  it('refuses segments that contain themselves', () => {
    const segment = (id: string, other: string) => ({ version: 1, body: { kind: 'segment' as const, id, rule: { inSegment: other } } });
    expect(() => compileSegments([segment('a', 'b'), segment('b', 'a')])).toThrow('a -> b -> a');
  });
});
