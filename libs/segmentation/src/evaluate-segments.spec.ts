import { Condition } from '@kairos/definitions';
import { ProfileEvent, applyEvent } from './apply-event';
import { ChangeCause, CompiledSegment, Memberships, SegmentEvaluation, compileSegments, evaluateSegments } from './evaluate-segments';
import { evaluateRule, nextChange } from './evaluate-rule';
import { ProfileModel, buildProfileModel } from './profile-model';
import { ProfileState, emptyProfileState } from './profile-state';
import { parseRule } from './rule';
import { DAY, T0, at, identify, page, track } from './testing/profile-events';

/** The seeds' segments, as definitions/shop/segments has them, plus the ones the issue names. */
const SEGMENTS: Record<string, Condition> = {
  'new-without-order': {
    all: [{ trait: 'signedUpAt', moreThanAgo: '14d' }, { trait: 'signedUpAt', withinLast: '30d' }, { notPerformed: 'Order Completed' }],
  },
  'inactive-90-days': { all: [{ performed: 'Order Completed' }, { notPerformed: 'Order Completed', within: '90d' }] },
  'big-spenders': { aggregate: { sum: 'revenue', of: 'Order Completed', where: [{ property: 'currency', equals: 'CHF' }] }, atLeast: 5000 },
  'email-subscribers': { consent: { channel: 'email', purpose: 'marketing' } },
  'tenth-purchase': { performed: 'Order Completed', atLeast: 10 },
  'highly-engaged': { engagement: ['high'] },
  'moderately-engaged': { engagement: ['moderate'] },
  'passive': { engagement: ['passive'] },
  'vip-subscribers': { all: [{ inSegment: 'big-spenders' }, { inSegment: 'email-subscribers' }] },
  'frequent-buyers': { performed: 'Order Completed', atLeast: 3, within: '30d' },
  'hot-leads': { score: { points: { 'Email Clicked': 10, 'Pricing Viewed': 20 }, halfLife: '7d' }, atLeast: 20 },
  'cooling-off': { score: { points: { 'Complaint Filed': -40 }, halfLife: '7d' }, lessThan: -10 },
  'occasional-buyers': { performed: 'Order Completed', atMost: 1, within: '30d' },
  'two-views-this-week': { performed: 'Product Viewed', exactly: 2, within: '7d' },
  'browsing-not-buying': { all: [{ performed: 'Product Viewed', within: '7d' }, { not: { performed: 'Order Completed', within: '7d' } }] },
  'new-or-lapsed-vip': { any: [{ trait: 'trialStartedAt', withinLast: '3d' }, { all: [{ inSegment: 'big-spenders' }, { inSegment: 'inactive-90-days' }] }] },
  'big-order-this-month': { aggregate: { max: 'revenue', of: 'Order Completed', within: '30d' }, atLeast: 500 },
  'views-this-month': { aggregate: { count: 'Product Viewed', within: '30d' }, atLeast: 3 },
};

const definitions = Object.entries(SEGMENTS).map(([id, rule]) => ({ version: 1, body: { kind: 'segment' as const, id, rule } }));
const segments: CompiledSegment[] = compileSegments(definitions);
const model: ProfileModel = buildProfileModel(definitions.map((d) => d.body));

/** A profile as the service would run it: events in order, segments evaluated after each, timers fired when due. */
class ProfileRun {
  state: ProfileState = emptyProfileState('p-1');
  memberships: Memberships = {};
  timer?: number;
  readonly log: Array<{ segment: string; change: string; day: number }> = [];

  send(...events: ProfileEvent[]): this {
    for (const event of events) {
      const now = Date.parse(event.timestamp);
      this.passTime(now - 1);
      this.state = applyEvent(this.state, event, model, now).state;
      this.evaluate(now, { kind: 'event', messageId: event.messageId });
    }
    return this;
  }

  /** Fires the timer as long as it falls due by `until` — no event, only time. */
  passTime(until: number): this {
    while (this.timer !== undefined && this.timer <= until) this.evaluate(this.timer);
    return this;
  }

  untilDay(day: number): this {
    return this.passTime(T0 + day * DAY);
  }

  isIn(segment: string): boolean {
    return this.memberships[segment] !== undefined;
  }

  private evaluate(now: number, cause: ChangeCause = { kind: 'timer' }): SegmentEvaluation {
    const result = evaluateSegments(this.memberships, this.state, segments, model, now, cause);
    this.memberships = result.memberships;
    this.timer = result.nextChangeAt;
    for (const change of result.changes) this.log.push({ segment: change.segmentId, change: change.change, day: (change.at - T0) / DAY });
    return result;
  }
}

const order = (day: number, revenue = 100, currency = 'CHF') => track('Order Completed', day, { revenue, currency });

describe('segments of the seeds', () => {
  it('a new customer without an order enters "new without order" 14 days after sign-up, by time alone, and leaves at 30', () => {
    const run = new ProfileRun().send(identify({ email: 'ada@example.com', signedUpAt: at(0) }, 0));
    expect(run.isIn('new-without-order')).toBe(false);
    expect(run.timer).toBe(T0 + 14 * DAY + 1);
    run.untilDay(14);
    expect(run.isIn('new-without-order')).toBe(false);
    run.passTime(T0 + 14 * DAY + 1);
    expect(run.isIn('new-without-order')).toBe(true);
    run.untilDay(31);
    expect(run.log.filter((l) => l.segment === 'new-without-order')).toEqual([
      { segment: 'new-without-order', change: 'enter', day: 14 + 1 / DAY },
      { segment: 'new-without-order', change: 'exit', day: 30 + 1 / DAY },
    ]);
  });

  it('a new customer who orders within 14 days never enters it', () => {
    const run = new ProfileRun().send(identify({ signedUpAt: at(0) }, 0), order(5)).untilDay(40);
    expect(run.log.some((l) => l.segment === 'new-without-order')).toBe(false);
  });

  it('a customer enters "inactive 90 days" 90 days after the last order and leaves with the next order', () => {
    const run = new ProfileRun().send(order(10), order(20));
    run.untilDay(110);
    expect(run.isIn('inactive-90-days')).toBe(false);
    run.untilDay(111);
    expect(run.isIn('inactive-90-days')).toBe(true);
    run.send(order(130));
    expect(run.isIn('inactive-90-days')).toBe(false);
  });

  it('sorts profiles into high, moderate and passive engagement, and lets them sink as opens grow old', () => {
    const run = new ProfileRun().send(track('Email Clicked', 1), track('Email Clicked', 2), track('Email Opened', 3), page(4), page(5), page(6), page(7));
    expect(run.isIn('highly-engaged')).toBe(true);
    run.untilDay(33);
    expect(run.isIn('moderately-engaged')).toBe(true);
    run.untilDay(38);
    expect(run.isIn('passive')).toBe(true);
  });

  it('enters "big spenders" when lifetime spend in CHF reaches 5,000, ignoring other currencies', () => {
    const run = new ProfileRun().send(order(1, 3000), order(2, 4000, 'EUR'));
    expect(run.isIn('big-spenders')).toBe(false);
    run.send(order(3, 2000));
    expect(run.isIn('big-spenders')).toBe(true);
    expect(run.log).toContainEqual({ segment: 'big-spenders', change: 'enter', day: 3 });
  });

  it('enters "tenth purchase" with the tenth order, not before', () => {
    const run = new ProfileRun();
    for (let day = 1; day <= 9; day++) run.send(order(day * 40));
    expect(run.isIn('tenth-purchase')).toBe(false);
    run.send(order(400));
    expect(run.log.filter((l) => l.segment === 'tenth-purchase')).toEqual([{ segment: 'tenth-purchase', change: 'enter', day: 400 }]);
  });

  it('evaluates a segment of segments after the segments it names, in the same pass', () => {
    expect(segments.findIndex((s) => s.id === 'vip-subscribers')).toBeGreaterThan(segments.findIndex((s) => s.id === 'big-spenders'));
    const run = new ProfileRun().send(order(1, 6000), track('Subscribed', 2));
    expect(run.isIn('vip-subscribers')).toBe(false); // marketing e-mail needs double opt-in: pending
    run.send(track('Subscription Confirmed', 3));
    expect(run.isIn('email-subscribers')).toBe(true);
    expect(run.isIn('vip-subscribers')).toBe(true);
    run.send(track('Email Unsubscribed', 4));
    expect(run.log.filter((l) => l.day === 4).map((l) => l.segment)).toEqual(['email-subscribers', 'vip-subscribers']);
  });

  it('a withdrawal wins over an opt-in that is older, even when the opt-in arrives later', () => {
    const run = new ProfileRun().send(track('Subscribed', 1), track('Subscription Confirmed', 2), track('Unsubscribed', 5));
    run.send(track('Subscription Confirmed', 3));
    expect(run.isIn('email-subscribers')).toBe(false);
  });

  it('leaves "at least 3 orders in 30 days" when the oldest of them leaves the window, to the millisecond', () => {
    const run = new ProfileRun().send(order(1), order(2), order(3));
    expect(run.isIn('frequent-buyers')).toBe(true);
    run.passTime(T0 + 31 * DAY);
    expect(run.isIn('frequent-buyers')).toBe(true);
    run.passTime(T0 + 31 * DAY + 1);
    expect(run.isIn('frequent-buyers')).toBe(false);
  });

  it('drops a decaying lead score below its threshold at the computed moment', () => {
    const run = new ProfileRun().send(track('Pricing Viewed', 1), track('Email Clicked', 1));
    expect(run.isIn('hot-leads')).toBe(true);
    // 30 points halve to 20 after 7 * log2(1.5) days.
    const crossing = T0 + DAY + 7 * DAY * Math.log2(1.5);
    run.passTime(crossing - 60_000);
    expect(run.isIn('hot-leads')).toBe(true);
    run.passTime(crossing + 60_000);
    expect(run.isIn('hot-leads')).toBe(false);
  });
});

describe('changes by time alone through every part of the rule language', () => {
  const days = (run: ProfileRun, segment: string) => run.log.filter((l) => l.segment === segment).map((l) => `${l.change} ${Math.round(l.day * 1000) / 1000}`);

  it('at most / exactly N within a window change when an event leaves it', () => {
    const run = new ProfileRun().send(order(1), order(2), track('Product Viewed', 3), track('Product Viewed', 4), track('Product Viewed', 5)).untilDay(40);
    // Two orders: not "at most one" until the first leaves the 30 days, nor after the second (zero is at most one).
    expect(days(run, 'occasional-buyers')).toEqual(['enter 1', 'exit 2', 'enter 31']);
    // Three views: exactly two once the first leaves the 7 days, then one.
    expect(days(run, 'two-views-this-week')).toEqual(['enter 4', 'exit 5', 'enter 10', 'exit 11']);
  });

  it('not: browsing without buying holds once the order leaves the window, by time', () => {
    const run = new ProfileRun().send(track('Product Viewed', 1), order(3), track('Product Viewed', 9)).untilDay(20);
    expect(days(run, 'browsing-not-buying')).toEqual(['enter 1', 'exit 3', 'enter 10', 'exit 16']);
  });

  it('any, and a segment of segments whose inner segment changes by time', () => {
    const run = new ProfileRun().send(identify({ trialStartedAt: at(0) }, 0), order(1, 6000)).untilDay(100);
    // On trial for three days, then out; back in when the big spender has not ordered for 90 days.
    expect(days(run, 'new-or-lapsed-vip')).toEqual(['enter 0', 'exit 3', 'enter 91']);
  });

  it('windowed aggregates (max, count) leave the window by time, at most one bucket late', () => {
    const run = new ProfileRun().send(order(1, 600), order(10, 100), track('Product Viewed', 2), track('Product Viewed', 3), track('Product Viewed', 4)).untilDay(40);
    const [, bigLeft] = run.log.filter((l) => l.segment === 'big-order-this-month');
    expect(bigLeft).toMatchObject({ change: 'exit' });
    expect(bigLeft.day).toBeGreaterThanOrEqual(31);
    expect(bigLeft.day).toBeLessThanOrEqual(32);
    const [viewsIn, viewsOut] = run.log.filter((l) => l.segment === 'views-this-month');
    expect(viewsIn).toMatchObject({ change: 'enter', day: 4 });
    expect(viewsOut.change).toBe('exit');
    expect(viewsOut.day).toBeGreaterThanOrEqual(32);
    expect(viewsOut.day).toBeLessThanOrEqual(33);
  });
});

describe('decaying scores', () => {
  it("decay from the event's own moment, not from the start of its bucket", () => {
    // 05:59 on day 1: late in a bucket of several hours. 30 points reach 20 after 7 * log2(1.5) days from 05:59.
    const day = 1 + (5 * 60 + 59) / (24 * 60);
    const run = new ProfileRun().send(track('Pricing Viewed', day), track('Email Clicked', day));
    expect(run.isIn('hot-leads')).toBe(true);
    const crossing = T0 + day * DAY + 7 * DAY * Math.log2(1.5);
    run.passTime(crossing - 60_000);
    expect(run.isIn('hot-leads')).toBe(true);
    run.passTime(crossing + 60_000);
    expect(run.isIn('hot-leads')).toBe(false);
  });

  it('a negative score below a negative bound rises back above it at the computed moment, by time alone', () => {
    // -40 halves to -10 after two half-lives: "less than -10" holds until then.
    const run = new ProfileRun().send(track('Complaint Filed', 1));
    expect(run.isIn('cooling-off')).toBe(true);
    expect(run.timer).toBeDefined();
    run.passTime(T0 + 15 * DAY - 60_000);
    expect(run.isIn('cooling-off')).toBe(true);
    run.passTime(T0 + 15 * DAY + 60_000);
    expect(run.isIn('cooling-off')).toBe(false);
  });

  it('a score exactly at its bound has the moment it decays below as its next change', () => {
    const rule = parseRule({ score: { points: { 'Pricing Viewed': 20 }, halfLife: '7d' }, atLeast: 20 });
    const scored = buildProfileModel([{ kind: 'segment', id: 'exact', rule: { score: { points: { 'Pricing Viewed': 20 }, halfLife: '7d' }, atLeast: 20 } }]);
    const state = applyEvent(emptyProfileState('p-2'), track('Pricing Viewed', 1), scored, T0 + DAY).state;
    expect(evaluateRule(rule, { state, model: scored, now: T0 + DAY })).toEqual({ matches: true, changesAt: T0 + DAY + 1 });
  });
});

describe('evaluateSegments', () => {
  it('names the profile, segment, version, time and the input that caused each change', () => {
    const state = applyEvent(emptyProfileState('p-9'), order(1, 6000), model, T0 + DAY).state;
    const cause = { kind: 'event' as const, messageId: 'm-order' };
    const { changes, memberships } = evaluateSegments({}, state, segments, model, T0 + DAY, cause);
    expect(changes).toContainEqual({ profileId: 'p-9', segmentId: 'big-spenders', version: 1, change: 'enter', at: T0 + DAY, cause });
    expect(memberships['big-spenders']).toEqual({ version: 1, since: T0 + DAY });
  });

  it('lets members of a removed segment exit it', () => {
    const state = emptyProfileState('p-9');
    const { changes } = evaluateSegments({ gone: { version: 3, since: T0 } }, state, [], model, T0 + DAY, { kind: 'timer' });
    expect(changes).toEqual([{ profileId: 'p-9', segmentId: 'gone', version: 3, change: 'exit', at: T0 + DAY, cause: { kind: 'timer' } }]);
  });
});

describe('nextChange', () => {
  const state = [identify({ signedUpAt: at(0) }, 0), order(10)].reduce((s, e) => applyEvent(s, e, model, T0 + 10 * DAY).state, emptyProfileState('p'));
  const context = (day: number) => ({ state, model, now: T0 + day * DAY });

  it('says when "no order for 90 days" becomes true: 90 days after the last order', () => {
    expect(nextChange(parseRule(SEGMENTS['inactive-90-days']), context(11))).toBe(T0 + 100 * DAY + 1);
  });

  it('says nothing when only an event can change the answer', () => {
    expect(nextChange(parseRule(SEGMENTS['big-spenders']), context(11))).toBeUndefined();
    expect(nextChange(parseRule(SEGMENTS['new-without-order']), context(11))).toBeUndefined();
  });

  it('judges trait dates relative to now', () => {
    const rule = parseRule({ trait: 'signedUpAt', after: '2025-12-31' });
    expect(evaluateRule(rule, context(11)).matches).toBe(true);
    expect(evaluateRule(parseRule({ trait: 'signedUpAt', before: '2026-01-01' }), context(11)).matches).toBe(false);
  });
});
