import { EVENT_SCHEMAS, ProfileUpdateRecord, SchemaIds, SchemaValidator } from '@kairos/contracts';
import { emptyProfileState } from '@kairos/segmentation';
import { scheduleFingerprint, stepJourneys, traitUpdateEvent } from './step-journeys';
import { mergeJourneysStates } from './journeys-state';
import { DAY, DEFAULT_GUARD_RAILS, HOUR, T0, catalogue, dispatches, identify, iso, journey, optIn, outcomes, run, sends, track } from './testing/journey-fixtures';
import { buildCatalogue } from './journey-catalogue';
import { SEGMENTS, TEMPLATES } from './testing/journey-fixtures';

const welcome = journey({
  id: 'welcome-series',
  trigger: { event: 'Signed Up', onlyIf: { inSegment: 'email-subscribers' } },
  reentry: { allow: 'once' },
  goal: { event: 'Order Completed', within: '14d', value: 'revenue' },
  steps: [{ send: 'welcome-1' }, { wait: '2d' }, { send: 'welcome-2' }, { wait: '5d' }, { branch: { if: { performed: 'Order Completed' }, then: [{ exit: 'already a customer' }], else: [{ send: 'welcome-3' }] } }],
});

const cart = journey({
  id: 'abandoned-cart',
  trigger: {
    event: 'Cart Updated',
    where: [{ property: 'products', exists: true }],
    unlessFollowedBy: { event: 'Order Completed', match: 'cartId', within: '4h' },
    onlyIf: { consent: { channel: 'email', purpose: 'marketing' } },
  },
  reentry: { allow: 'always', activeInstances: 'onePerKey', key: 'cartId' },
  steps: [{ send: 'cart-reminder' }, { waitForEvent: { event: 'Order Completed', match: 'cartId', timeout: '24h', onEvent: [{ exit: 'ordered' }], onTimeout: [{ send: 'cart-reminder', label: 'second' }] } }],
});

const products = [{ sku: 'A-1', name: 'Lamp', price: 89 }];

describe('entry triggers', () => {
  it('a welcome series sends the first mail at once, then two more after 2 and 7 days', () => {
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Signed Up', T0)], [welcome]);
    expect(sends(result)).toEqual([
      ['welcome-1', iso(T0)],
      ['welcome-2', iso(T0 + 2 * DAY)],
      ['welcome-3', iso(T0 + 7 * DAY)],
    ]);
    expect(outcomes(result, 'entered')).toHaveLength(1);
  });

  it('a cart left for 4 hours gets a reminder listing its products, with the consent proof it relied on', () => {
    const result = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products })], [cart], T0 + 2 * HOUR + 4 * HOUR);
    const [reminder] = dispatches(result);
    expect(sends(result)).toEqual([['cart-reminder', iso(T0 + 4 * HOUR)]]);
    expect(reminder).toMatchObject({
      channel: 'email',
      purpose: 'marketing',
      context: { event: { name: 'Cart Updated', properties: { cartId: 'c1', products } }, journey: { id: 'abandoned-cart', step: '0' } },
      reason: { trigger: 'Cart Updated not followed by Order Completed with the same cartId within 4h', consent: { status: 'confirmed', proof: expect.objectContaining({ event: 'Subscription Confirmed' }) } },
    });
  });

  it("a journey's sender goes with its requests; a journey without one leaves the template's", () => {
    const sender = { from: 'Outdoor-Team <outdoor@shop.example>', replyTo: 'service@shop.example', sendingDomain: 'mail.shop.example' };
    const withSender = journey({ ...cart, id: 'cart-with-sender', sender });
    const events = [...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products })];
    expect(dispatches(run(events, [withSender], T0 + 6 * HOUR))).toEqual([expect.objectContaining({ sender })]);
    expect(dispatches(run(events, [cart], T0 + 6 * HOUR))[0]).not.toHaveProperty('sender');
  });

  it('no reminder when the order for the cart comes in time', () => {
    const result = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products }), track('p1', 'Order Completed', T0 + HOUR, { cartId: 'c1', revenue: 89 })], [cart], T0 + 3 * DAY);
    expect(sends(result)).toEqual([]);
    expect(outcomes(result, 'entered')).toEqual([]);
  });

  it('no reminder when the order arrives right behind the cart update, at the same millisecond', () => {
    const result = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products }), track('p1', 'Order Completed', T0, { cartId: 'c1' })], [cart], T0 + 3 * DAY);
    expect(sends(result)).toEqual([]);
  });

  it('an order for another cart does not stop the reminder; two carts are two instances', () => {
    const result = run(
      [...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products }), track('p1', 'Cart Updated', T0 + 10 * 60_000, { cartId: 'c2', products }), track('p1', 'Order Completed', T0 + HOUR, { cartId: 'c2' })],
      [cart],
      T0 + 5 * HOUR,
    );
    expect(dispatches(result).map((request) => request.channel === 'email' && request.context.event?.properties?.cartId)).toEqual(['c1']);
    const twoCarts = run([...optIn('p2', T0 - DAY), track('p2', 'Cart Updated', T0, { cartId: 'c1', products }), track('p2', 'Cart Updated', T0 + 1, { cartId: 'c2', products })], [cart], T0 + 5 * HOUR);
    expect(new Set(outcomes(twoCarts, 'entered').map((outcome) => outcome.instanceId)).size).toBe(2);
    expect(sends(twoCarts)).toHaveLength(2);
  });

  it('a second reminder after 24 h unless the order comes; an order before the wait began still counts', () => {
    const timedOut = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products })], [cart], T0 + 2 * DAY);
    expect(sends(timedOut).map(([, at]) => at)).toEqual([iso(T0 + 4 * HOUR), iso(T0 + 28 * HOUR)]);
    const ordered = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products }), track('p1', 'Order Completed', T0 + 5 * HOUR, { cartId: 'c1' })], [cart], T0 + 2 * DAY);
    expect(sends(ordered)).toHaveLength(1);
    expect(outcomes(ordered, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['ordered']);
  });

  it('a wait for an event takes one seen before it began once: a second wait for the same event needs another', () => {
    const reorder = journey({
      id: 'reorder',
      trigger: { event: 'Cart Updated' },
      steps: [
        { wait: '1d' },
        {
          waitForEvent: {
            event: 'Order Completed',
            match: 'cartId',
            timeout: '2d',
            onEvent: [{ send: 'promo' }, { waitForEvent: { event: 'Order Completed', match: 'cartId', timeout: '7d', onEvent: [{ exit: 'ordered again' }], onTimeout: [{ send: 'win-back' }] } }],
            onTimeout: [{ exit: 'no order' }],
          },
        },
      ],
    });
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Cart Updated', T0, { cartId: 'c1' }), track('p1', 'Order Completed', T0 + HOUR, { cartId: 'c1' })], [reorder], T0 + 10 * DAY);
    expect(sends(result)).toEqual([
      ['promo', iso(T0 + DAY)],
      ['win-back', iso(T0 + 8 * DAY)],
    ]);
  });

  it('cart keys compare as text, and a cart event without a key is resolved by any order', () => {
    const numeric = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 42, products }), track('p1', 'Order Completed', T0 + 10 * HOUR, { cartId: '42' })], [cart], T0 + 3 * DAY);
    expect(sends(numeric)).toEqual([['cart-reminder', iso(T0 + 4 * HOUR)]]);
    expect(outcomes(numeric, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['ordered']);
    const keyless = run([...optIn('p2', T0 - DAY), track('p2', 'Cart Updated', T0, { products }), track('p2', 'Order Completed', T0 + HOUR, { cartId: 'c9' })], [cart], T0 + 3 * DAY);
    expect(sends(keyless)).toEqual([]);
  });

  it('the CHF 5,000 crossing fires once: not on later orders above it, not on a replayed event', () => {
    const vip = journey({ id: 'vip', trigger: { threshold: { inSegment: 'big-spenders' } }, reentry: { allow: 'always' }, steps: [{ send: 'vip-thank-you' }] });
    const first = track('p1', 'Order Completed', T0 + HOUR, { revenue: 3000, currency: 'CHF' });
    const second = track('p1', 'Order Completed', T0 + 2 * HOUR, { revenue: 2500, currency: 'CHF' });
    const result = run([...optIn('p1', T0), first, second, { ...second }, track('p1', 'Order Completed', T0 + 3 * HOUR, { revenue: 100, currency: 'CHF' }), { ...first }], [vip]);
    expect(sends(result)).toEqual([['vip-thank-you', iso(T0 + 2 * HOUR)]]);
  });

  it('entering a segment by time alone: a new customer without an order after 14 days gets the reactivation mail', () => {
    const reactivation = journey({ id: 'reactivation', trigger: { segment: 'new-without-order', on: 'enter', onlyIf: { inSegment: 'email-subscribers' } }, reentry: { allow: 'once' }, steps: [{ send: 'reactivation' }] });
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Signed Up', T0)], [reactivation], T0 + 20 * DAY);
    expect(sends(result)).toEqual([['reactivation', iso(T0 + 14 * DAY + 1)]]);
    const customer = run([...optIn('p2', T0 - HOUR), track('p2', 'Signed Up', T0), track('p2', 'Order Completed', T0 + DAY)], [reactivation], T0 + 20 * DAY);
    expect(sends(customer)).toEqual([]);
  });

  it('leaving a segment (on: exit): an unsubscribe starts a goodbye journey once, and opting in again does not', () => {
    const goodbye = journey({ id: 'goodbye', trigger: { segment: 'email-subscribers', on: 'exit' }, reentry: { allow: 'always' }, steps: [{ send: 'confirm-subscription' }] });
    const result = run([...optIn('p1', T0), track('p1', 'Unsubscribed', T0 + HOUR), ...optIn('p1', T0 + 2 * HOUR)], [goodbye]);
    expect(sends(result)).toEqual([['confirm-subscription', iso(T0 + HOUR)]]);
    expect(sends(run([...optIn('p2', T0)], [goodbye]))).toEqual([]);
  });

  it("a segment's backfill is no entry: members a newly published segment finds stay out unless the journey includes backfill", () => {
    const consented = { ...emptyProfileState('p1'), consent: { 'email.marketing': { grant: { at: 0, source: 'event', messageId: 'g' }, confirmation: { at: 1, source: 'event', messageId: 'c' } } } };
    const change = (cause: { kind: 'backfill' } | { kind: 'event'; messageId: string }) => ({ changeId: `p1/email-subscribers/1/enter/${cause.kind}`, profileId: 'p1', segmentId: 'email-subscribers', version: 1, change: 'enter' as const, at: iso(T0), cause });
    const backfill: ProfileUpdateRecord = { updateId: 'p1/backfill', profileId: 'p1', at: iso(T0), input: { kind: 'backfill', segmentId: 'email-subscribers', version: 1 }, state: consented as never, segments: { 'email-subscribers': { version: 1, since: T0 } }, changes: [change({ kind: 'backfill' })] };
    const live: ProfileUpdateRecord = { ...backfill, updateId: 'p1/m1', input: { kind: 'event', event: track('p1', 'Subscription Confirmed', T0) as never }, changes: [change({ kind: 'event', messageId: 'm1' })] };
    const entered = (includeBackfill: boolean | undefined, update: ProfileUpdateRecord) => {
      const welcomeOnEntry = journey({ id: 'welcome-on-entry', trigger: { segment: 'email-subscribers', on: 'enter', ...(includeBackfill === undefined ? {} : { includeBackfill }) }, reentry: { allow: 'once' }, steps: [{ send: 'welcome-1' }] });
      const { effects } = stepJourneys(undefined, { kind: 'update', update }, T0, catalogue([welcomeOnEntry]));
      return effects.filter((effect) => effect.kind === 'dispatch').length;
    };
    expect(entered(undefined, backfill)).toBe(0);
    expect(entered(false, backfill)).toBe(0);
    expect(entered(true, backfill)).toBe(1);
    expect(entered(undefined, live)).toBe(1);
    // A threshold over the segment: held from the backfill on, so neither it nor the next update is a crossing.
    const thanks = journey({ id: 'subscriber-thanks', trigger: { threshold: { inSegment: 'email-subscribers' } }, reentry: { allow: 'always' }, steps: [{ send: 'welcome-1' }] });
    const afterBackfill = stepJourneys(undefined, { kind: 'update', update: backfill }, T0, catalogue([thanks]));
    const next = stepJourneys(afterBackfill.state, { kind: 'update', update: { ...live, changes: [] } }, T0 + 1, catalogue([thanks]));
    expect([...afterBackfill.effects, ...next.effects].filter((effect) => effect.kind === 'dispatch')).toEqual([]);
    expect(stepJourneys(undefined, { kind: 'update', update: { ...live, changes: [] } }, T0, catalogue([thanks])).effects.filter((effect) => effect.kind === 'dispatch')).toHaveLength(1);
  });

  it('inactivity: 90 days without activity gets the win-back once per stretch', () => {
    const winBack = journey({ id: 'win-back', trigger: { inactiveFor: '90d' }, reentry: { allow: 'always' }, steps: [{ send: 'win-back' }] });
    const result = run([...optIn('p1', T0), track('p1', 'Product Viewed', T0 + DAY)], [winBack], T0 + 200 * DAY);
    expect(sends(result)).toEqual([['win-back', iso(T0 + 91 * DAY)]]);
    const active = run([...optIn('p2', T0), track('p2', 'Product Viewed', T0 + DAY), track('p2', 'Product Viewed', T0 + 80 * DAY)], [winBack], T0 + 100 * DAY);
    expect(sends(active)).toEqual([]);
  });

  it("a mail's profile context has the last order's time and the order count from the state; a trait of that name wins", () => {
    const thanks = journey({ id: 'order-thanks', trigger: { event: 'Order Completed' }, reentry: { allow: 'always' }, steps: [{ send: 'confirm-subscription' }] });
    const orders = [track('p1', 'Order Completed', T0, { revenue: 10 }), track('p1', 'Order Completed', T0 + DAY, { revenue: 20 })];
    const [, second] = dispatches(run(orders, [thanks]));
    expect(second).toMatchObject({ context: { profile: { profileId: 'p1', lastOrderAt: iso(T0 + DAY), orderCount: 2 } } });
    const [own] = dispatches(run([identify('p2', { lastOrderAt: '2020-01-01' }, T0 - DAY), track('p2', 'Order Completed', T0)], [thanks]));
    expect(own).toMatchObject({ context: { profile: { lastOrderAt: '2020-01-01', orderCount: 1 } } });
  });

  it('a birthday fires once a year at 09:00 in the profile time zone; 29 February falls back to 28 February', () => {
    const birthday = journey({ id: 'birthday', trigger: { recurring: { date: 'birthday', every: 'year', at: '09:00' } }, reentry: { allow: 'always' }, steps: [{ send: 'birthday' }] });
    const zurich = { context: { timezone: 'Europe/Zurich' } };
    const result = run([...optIn('p1', T0), identify('p1', { birthday: '1992-02-29' }, T0, zurich)], [birthday], Date.parse('2028-03-01T00:00:00Z'));
    // 2027-02-28 09:00 in Zurich (UTC+1) is 08:00 UTC; 2028 is a leap year: 29 February.
    expect(sends(result).map(([, at]) => at)).toEqual(['2027-02-28T08:00:00.000Z', '2028-02-29T08:00:00.000Z']);
  });

  it('a changed birthday reschedules the next occurrence', () => {
    const birthday = journey({ id: 'birthday', trigger: { recurring: { date: 'birthday', every: 'year', at: '09:00' } }, reentry: { allow: 'always' }, steps: [{ send: 'birthday' }] });
    const result = run([...optIn('p1', T0), identify('p1', { birthday: '1990-06-01' }, T0), identify('p1', { birthday: '1990-04-10' }, T0 + DAY)], [birthday], Date.parse('2026-12-31T00:00:00Z'));
    expect(sends(result).map(([, at]) => at)).toEqual(['2026-04-10T09:00:00.000Z']);
  });

  it('monthly recurring: the 31st falls back to the last day of a shorter month', () => {
    const monthly = journey({ id: 'contract', trigger: { recurring: { date: 'contractStart', every: 'month', at: '10:00' } }, reentry: { allow: 'always' }, steps: [{ send: 'promo' }] });
    const result = run([...optIn('p1', Date.parse('2026-03-31T12:00:00Z')), identify('p1', { contractStart: '2025-01-31' }, Date.parse('2026-03-31T12:00:00Z'))], [monthly], Date.parse('2026-06-01T00:00:00Z'));
    expect(sends(result).map(([, at]) => at)).toEqual(['2026-04-30T10:00:00.000Z', '2026-05-31T10:00:00.000Z']);
  });

  it('a time zone learnt after the birthday reschedules it to 09:00 local time', () => {
    const birthday = journey({ id: 'birthday', trigger: { recurring: { date: 'birthday', every: 'year', at: '09:00' } }, reentry: { allow: 'always' }, steps: [{ send: 'birthday' }] });
    const result = run([...optIn('p1', T0), identify('p1', { birthday: '1990-06-01' }, T0), track('p1', 'Product Viewed', T0 + DAY, {}, { context: { timezone: 'Europe/Zurich' } })], [birthday], Date.parse('2026-12-31T00:00:00Z'));
    // 09:00 in Zurich in summer is 07:00 UTC (without the time zone it was 09:00 UTC).
    expect(sends(result).map(([, at]) => at)).toEqual(['2026-06-01T07:00:00.000Z']);
  });

  it('a time zone learnt on the birthday itself, after 09:00 there: the occurrence comes at once, not a year later', () => {
    const birthday = journey({ id: 'birthday', trigger: { recurring: { date: 'birthday', every: 'year', at: '09:00' } }, reentry: { allow: 'always' }, steps: [{ send: 'birthday' }] });
    const learnt = Date.parse('2026-06-01T08:30:00Z'); // 10:30 in Zurich; 09:00 UTC still ahead
    const result = run([...optIn('p1', T0), identify('p1', { birthday: '1990-06-01' }, T0), track('p1', 'Product Viewed', learnt, {}, { context: { timezone: 'Europe/Zurich' } })], [birthday], Date.parse('2026-12-31T00:00:00Z'));
    expect(sends(result).map(([, at]) => at)).toEqual([iso(learnt)]);
  });

  it('property filters: an event whose properties do not match starts nothing', () => {
    const bigOrder = journey({ id: 'big-order', trigger: { event: 'Order Completed', where: [{ property: 'revenue', atLeast: 100 }] }, reentry: { allow: 'always', activeInstances: 'unlimited' }, steps: [{ send: 'promo' }] });
    const result = run([...optIn('p1', T0), track('p1', 'Order Completed', T0 + HOUR, { revenue: 50 }), track('p1', 'Order Completed', T0 + 2 * HOUR, { revenue: 150 })], [bigOrder]);
    expect(sends(result)).toEqual([['promo', iso(T0 + 2 * HOUR)]]);
  });
});

describe('re-entry', () => {
  const promo = (reentry: Record<string, unknown>) => journey({ id: 'promo', trigger: { event: 'Product Viewed' }, reentry: reentry as never, steps: [{ send: 'promo' }] });
  const views = (days: number[]) => [...optIn('p1', T0 - HOUR), ...days.map((day) => track('p1', 'Product Viewed', T0 + day * DAY))];

  it('once ever, once per period, every time', () => {
    expect(sends(run(views([0, 1, 40]), [promo({ allow: 'once' })]))).toHaveLength(1);
    expect(sends(run(views([0, 1, 40]), [promo({ allow: 'oncePer', period: '30d' })]))).toHaveLength(2);
    expect(sends(run(views([0, 1, 40]), [promo({ allow: 'always' })]))).toHaveLength(3);
  });

  it('one active instance per profile unless configured otherwise', () => {
    const long = (activeInstances: string) => journey({ id: 'long', trigger: { event: 'Product Viewed' }, reentry: { allow: 'always', activeInstances }, steps: [{ send: 'promo' }, { wait: '10d' }, { send: 'promo' }] });
    expect(outcomes(run(views([0, 1]), [long('onePerProfile')]), 'entered')).toHaveLength(1);
    expect(outcomes(run(views([0, 1]), [long('unlimited')]), 'entered')).toHaveLength(2);
  });
});

describe('steps', () => {
  it('waits until a local time of day in the profile time zone', () => {
    const j = journey({ id: 'morning', trigger: { event: 'Product Viewed' }, steps: [{ wait: { untilTime: '10:00' } }, { send: 'promo' }] });
    const result = run([...optIn('p1', T0), track('p1', 'Product Viewed', T0 + HOUR, {}, { context: { timezone: 'America/New_York' } })], [j]);
    // 11:00 UTC is 06:00 in New York (EST): 10:00 there is 15:00 UTC the same day.
    expect(sends(result)).toEqual([['promo', '2026-03-02T15:00:00.000Z']]);
  });

  it('waits until a date property minus an offset', () => {
    const j = journey({ id: 'contract-end', trigger: { event: 'Contract Signed' }, steps: [{ wait: { untilDate: 'endsAt', offset: '-30d' } }, { send: 'promo' }] });
    const result = run([...optIn('p1', T0), track('p1', 'Contract Signed', T0 + HOUR, { endsAt: iso(T0 + 100 * DAY) })], [j], T0 + 120 * DAY);
    expect(sends(result)).toEqual([['promo', iso(T0 + 70 * DAY)]]);
  });

  it('branches on a segment-rule condition over the profile', () => {
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Signed Up', T0), track('p1', 'Order Completed', T0 + 3 * DAY, { revenue: 10 })], [{ ...welcome, goal: undefined }]);
    expect(sends(result).map(([template]) => template)).toEqual(['welcome-1', 'welcome-2']);
    expect(outcomes(result, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['already a customer']);
  });

  it('branches on a property of the event that triggered the instance (the cart’s total), also after a wait', () => {
    const big = journey({
      id: 'cart-value',
      trigger: { event: 'Cart Updated' },
      reentry: { allow: 'always', activeInstances: 'unlimited' },
      steps: [{ wait: '1h' }, { branch: { if: { eventProperty: 'total', atLeast: 100 }, then: [{ send: 'promo' }], else: [{ send: 'cart-reminder' }] } }],
    });
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Cart Updated', T0, { total: 249 }), track('p1', 'Cart Updated', T0 + 1, { total: 19.9 }), track('p1', 'Cart Updated', T0 + 2, {})], [big]);
    // A property the event lacks reads as no value: the condition does not hold.
    expect(sends(result)).toEqual([
      ['promo', iso(T0 + HOUR)],
      ['cart-reminder', iso(T0 + 1 + HOUR)],
      ['cart-reminder', iso(T0 + 2 + HOUR)],
    ]);
  });

  it('exits on a property of the event arriving (exitWhen), not of the one that started the instance', () => {
    const cancellable = journey({
      id: 'order-follow-up',
      trigger: { event: 'Order Completed' },
      exitWhen: { eventProperty: 'status', equals: 'cancelled' },
      steps: [{ wait: '2d' }, { send: 'promo' }],
    });
    const kept = run([...optIn('p1', T0 - HOUR), track('p1', 'Order Completed', T0, { orderId: 'o1' }), track('p1', 'Order Updated', T0 + HOUR, { orderId: 'o1', status: 'shipped' })], [cancellable]);
    expect(sends(kept)).toEqual([['promo', iso(T0 + 2 * DAY)]]);
    const cancelled = run([...optIn('p2', T0 - HOUR), track('p2', 'Order Completed', T0, { orderId: 'o2' }), track('p2', 'Order Updated', T0 + HOUR, { orderId: 'o2', status: 'cancelled' })], [cancellable]);
    expect(sends(cancelled)).toEqual([]);
    expect(outcomes(cancelled, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['exit condition']);
  });

  it('an A/B/n split is deterministic per profile, follows the weights, and the control group gets nothing', () => {
    const split = journey({
      id: 'ab',
      trigger: { event: 'Product Viewed' },
      steps: [{ split: { variants: [{ name: 'a', weight: 45, steps: [{ send: 'promo' }] }, { name: 'b', weight: 45, steps: [{ send: 'welcome-1' }] }], control: 10 } }],
    });
    const events = Array.from({ length: 2000 }, (_, n) => [...optIn(`p${n}`, T0), track(`p${n}`, 'Product Viewed', T0 + HOUR)]).flat();
    const first = run(events, [split]);
    const second = run(events, [split]);
    const variants = (result: typeof first) => outcomes(result, 'step-executed').map((outcome) => `${outcome.profileId}:${outcome.detail?.split}`);
    expect(variants(first)).toEqual(variants(second));
    const counts = new Map<string, number>();
    for (const outcome of outcomes(first, 'step-executed')) if (typeof outcome.detail?.split === 'string') counts.set(outcome.detail.split, (counts.get(outcome.detail.split) ?? 0) + 1);
    expect(counts.get('control')).toBeGreaterThan(120);
    expect(counts.get('control')).toBeLessThan(280);
    expect(counts.get('a')).toBeGreaterThan(780);
    expect(sends(first)).toHaveLength(2000 - (counts.get('control') ?? 0));
    expect(dispatches(first).every((request) => request.origin?.variant === 'a' || request.origin?.variant === 'b')).toBe(true);
  });

  it('once a split has a winner, every entry from its effective time on gets it, except the control group', () => {
    const ab = journey({
      id: 'ab-winner',
      trigger: { event: 'Product Viewed' },
      reentry: { allow: 'always', activeInstances: 'unlimited' },
      goal: { event: 'Order Completed', within: '7d' },
      steps: [{ split: { variants: [{ name: 'a', weight: 45, steps: [{ send: 'promo' }] }, { name: 'b', weight: 45, steps: [{ send: 'welcome-1' }] }], control: 10, winner: { confidence: 0.95, minimumPerVariant: 100 } } }],
    });
    const decided = catalogue([ab], undefined, { splitWinners: (journeyId, version, stepId) => (journeyId === 'ab-winner' && version === 1 && stepId === '0' ? { variant: 'b', effectiveAt: T0 + 2 * HOUR } : undefined) });
    const events = Array.from({ length: 400 }, (_, n) => [...optIn(`p${n}`, T0), track(`p${n}`, 'Product Viewed', T0 + HOUR), track(`p${n}`, 'Product Viewed', T0 + 3 * HOUR)]).flat();
    const picks = (at: number) => outcomes(run(events, decided), 'step-executed').filter((outcome) => outcome.at === iso(at) && outcome.detail?.split !== undefined);
    const before = picks(T0 + HOUR);
    const after = picks(T0 + 3 * HOUR);
    expect(new Set(before.map((outcome) => outcome.detail?.split))).toEqual(new Set(['a', 'b', 'control']));
    expect(before.some((outcome) => outcome.detail?.winner)).toBe(false);
    // The same profiles: the control group stays the control group, everyone else gets b.
    const control = new Set(before.filter((outcome) => outcome.detail?.split === 'control').map((outcome) => outcome.profileId));
    expect(after.filter((outcome) => outcome.detail?.split === 'control').map((outcome) => outcome.profileId)).toEqual([...control]);
    expect(after.filter((outcome) => !control.has(outcome.profileId)).every((outcome) => outcome.detail?.split === 'b' && outcome.detail?.winner === true)).toBe(true);
    expect(after).toHaveLength(400);
  });

  it('update profile and webhook: a trait to feed back, and a dispatch request to POST the profile and event', () => {
    const j = journey({ id: 'vip', trigger: { event: 'Order Completed' }, steps: [{ updateProfile: { set: { vipSince: '{{year}}' } } }, { webhook: { url: 'https://crm.example/hook', secret: 'VIP_SECRET' } }] });
    const result = run([...optIn('p1', T0), track('p1', 'Order Completed', T0 + HOUR, { revenue: 10 })], [j]);
    const update = result.timeline.find((entry) => entry.effect?.kind === 'update-profile');
    expect(update?.effect).toMatchObject({ update: { traits: { vipSince: '2026' } } });
    expect(dispatches(result)).toEqual([expect.objectContaining({ channel: 'webhook', url: 'https://crm.example/hook', secretName: 'VIP_SECRET', body: expect.objectContaining({ event: expect.objectContaining({ name: 'Order Completed' }) }) })]);
  });
});

describe('updateProfile in a simulation', () => {
  it('sets the trait on the profile, as the service does through ingestion, so a later branch reads it', () => {
    const j = journey({
      id: 'tiering',
      trigger: { event: 'Order Completed' },
      steps: [{ updateProfile: { set: { tier: 'gold' } } }, { wait: '1h' }, { branch: { if: { trait: 'tier', equals: 'gold' }, then: [{ send: 'promo' }], else: [{ send: 'welcome-1' }] } }],
    });
    const result = run([...optIn('p1', T0), track('p1', 'Order Completed', T0 + HOUR)], [j]);
    expect(result.timeline.filter((entry) => entry.effect?.kind === 'update-profile')).toHaveLength(1);
    // An hour later the branch reads the trait the step set.
    expect(sends(result)).toEqual([['promo', iso(T0 + 2 * HOUR)]]);
  });

  it('journeys that set traits re-entering each other at one moment stop: the repeated write-back is the same event, a duplicate', () => {
    const flip = (id: string, from: string, to: string) => journey({ id, trigger: { segment: from, on: 'enter' }, reentry: { allow: 'always' }, steps: [{ updateProfile: { set: { tier: to } } }] });
    const segments = [
      ...SEGMENTS.map((body) => ({ version: 1, body })),
      ...['gold', 'silver'].map((tier) => ({ version: 1, body: { kind: 'segment' as const, id: tier, rule: { trait: 'tier', equals: tier } } })),
    ];
    const result = run([identify('p1', { tier: 'gold' }, T0)], catalogue([flip('to-silver', 'gold', 'silver'), flip('to-gold', 'silver', 'gold')], undefined, { segments }));
    // gold -> silver -> gold -> silver again: the same instance (same journey, profile, moment) writes the same event,
    // which segmentation (and ingestion, in the service) drops as a duplicate.
    const writes = result.timeline.flatMap((entry) => (entry.effect?.kind === 'update-profile' ? [entry.effect.update.messageId] : []));
    expect(writes).toHaveLength(3);
    expect(writes[2]).toBe(writes[0]);
    expect(result.timeline.filter((entry) => entry.kind === 'event' && entry.text.includes('duplicate messageId'))).toHaveLength(1);
  });

  it('is written back as an identify event addressed to the profile by its id, which the internal topic accepts', () => {
    const profileId = '0b7c2f7e-3c1d-4a5e-9f00-1234567890ab';
    const event = traitUpdateEvent({ profileId, messageId: 'u-1', at: iso(T0), traits: { tier: 'gold' } });
    expect(event).toEqual({ type: 'identify', messageId: 'u-1', timestamp: iso(T0), traits: { tier: 'gold' }, context: { kairos: { profileId }, library: { name: 'kairos-triggers', version: '1' } } });
    expect(new SchemaValidator(EVENT_SCHEMAS).validate(SchemaIds.segmentEvent, event)).toMatchObject({ valid: true });
  });
});

describe('goals and exits', () => {
  it('a goal ends the instance, cancels pending sends and records the conversion value, step and variant', () => {
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Signed Up', T0), track('p1', 'Order Completed', T0 + DAY, { revenue: 120, currency: 'CHF' })], [welcome]);
    expect(sends(result).map(([template]) => template)).toEqual(['welcome-1']);
    expect(outcomes(result, 'goal-reached')).toEqual([expect.objectContaining({ stepId: '0', detail: expect.objectContaining({ value: 120, currency: 'CHF', goal: 'Order Completed', attributedStepId: '0' }) })]);
  });

  it('a conversion is credited to the last mail that went out, not to the wait behind it', () => {
    const promo = journey({
      id: 'promo-follow-up',
      trigger: { event: 'Product Viewed' },
      goal: { event: 'Order Completed', within: '7d', value: 'revenue' },
      steps: [{ send: 'promo' }, { waitForEvent: { event: 'Product Viewed', timeout: '2d', onEvent: [{ exit: 'came back' }], onTimeout: [{ exit: 'did not' }] } }],
    });
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Product Viewed', T0), track('p1', 'Order Completed', T0 + HOUR, { revenue: 50 })], [promo]);
    expect(outcomes(result, 'goal-reached')).toEqual([expect.objectContaining({ stepId: '0', detail: expect.objectContaining({ attributedStepId: '0', value: 50 }) })]);
  });

  it('one order is one conversion: an earlier instance whose goal window is still open ends without counting it again', () => {
    const promo = journey({ id: 'promo', trigger: { event: 'Product Viewed' }, reentry: { allow: 'always' }, goal: { event: 'Order Completed', within: '7d', value: 'revenue' }, steps: [{ send: 'promo' }] });
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Product Viewed', T0), track('p1', 'Product Viewed', T0 + DAY), track('p1', 'Order Completed', T0 + 2 * DAY, { revenue: 80 })], [promo]);
    expect(outcomes(result, 'entered')).toHaveLength(2);
    const [converted] = outcomes(result, 'goal-reached');
    expect(outcomes(result, 'goal-reached')).toHaveLength(1);
    expect(converted.instanceId).toBe(outcomes(result, 'entered')[1].instanceId);
    expect(outcomes(result, 'exited')).toEqual([expect.objectContaining({ instanceId: outcomes(result, 'entered')[0].instanceId, detail: expect.objectContaining({ reason: 'goal reached by a later entry' }) })]);
  });

  it('an order naming no cart converts one of the open cart instances, not each of them', () => {
    const carts = journey({ id: 'carts', trigger: { event: 'Cart Updated' }, reentry: { allow: 'always', activeInstances: 'onePerKey', key: 'cartId' }, goal: { event: 'Order Completed', within: '7d', value: 'revenue' }, steps: [{ send: 'cart-reminder' }, { wait: '2d' }, { send: 'cart-reminder' }] });
    const result = run([...optIn('p1', T0 - HOUR), track('p1', 'Cart Updated', T0, { cartId: 'c1' }), track('p1', 'Cart Updated', T0 + HOUR, { cartId: 'c2' }), track('p1', 'Order Completed', T0 + DAY, { revenue: 90 })], [carts]);
    expect(outcomes(result, 'goal-reached')).toHaveLength(1);
    expect(outcomes(result, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['goal reached by a later entry']);
  });

  it('an exit condition that already holds keeps the profile out; one that time makes true ends the instance before its next step', () => {
    const afterOrder = journey({ id: 'exit-at-entry', trigger: { event: 'Product Viewed' }, exitWhen: { performed: 'Order Completed', within: '1d' }, steps: [{ wait: '2h' }, { send: 'promo' }] });
    const ordered = run([...optIn('p1', T0 - HOUR), track('p1', 'Order Completed', T0), track('p1', 'Product Viewed', T0 + HOUR)], [afterOrder], T0 + DAY);
    expect(sends(ordered)).toEqual([]);
    expect(outcomes(ordered, 'entered')).toEqual([]);
    const newcomers = journey({ id: 'newcomers', trigger: { event: 'Product Viewed' }, exitWhen: { trait: 'trialStartedAt', moreThanAgo: '14d' }, steps: [{ wait: '2d' }, { send: 'promo' }] });
    const aged = run([...optIn('p2', T0 - HOUR), identify('p2', { trialStartedAt: iso(T0 - 13 * DAY) }, T0 - HOUR), track('p2', 'Product Viewed', T0)], [newcomers], T0 + 3 * DAY);
    expect(outcomes(aged, 'entered')).toHaveLength(1);
    expect(sends(aged)).toEqual([]);
    expect(outcomes(aged, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['exit condition']);
  });

  it('an exit condition cancels pending steps', () => {
    const j = journey({ id: 'exit', trigger: { event: 'Product Viewed' }, exitWhen: { performed: 'Order Completed' }, steps: [{ wait: '1d' }, { send: 'promo' }] });
    const result = run([...optIn('p1', T0), track('p1', 'Product Viewed', T0 + HOUR), track('p1', 'Order Completed', T0 + 2 * HOUR)], [j]);
    expect(sends(result)).toEqual([]);
    expect(outcomes(result, 'exited').map((outcome) => outcome.detail?.reason)).toEqual(['exit condition']);
  });
});

describe('guard rails', () => {
  it('no marketing mail without consent: suppressed and recorded; a transactional mail goes out', () => {
    const doi = journey({ id: 'double-opt-in', trigger: { event: 'Subscribed' }, steps: [{ send: 'confirm-subscription' }, { send: 'promo' }] });
    const result = run([track('p1', 'Subscribed', T0)], [doi]);
    expect(sends(result).map(([template]) => template)).toEqual(['confirm-subscription']);
    expect(outcomes(result, 'suppressed-by-consent')).toEqual([expect.objectContaining({ stepId: '1', detail: expect.objectContaining({ template: 'promo', consent: 'pending' }) })]);
    const withdrawn = run([...optIn('p2', T0 - DAY), track('p2', 'Unsubscribed', T0 - HOUR), track('p2', 'Signed Up', T0)], [{ ...welcome, trigger: { event: 'Signed Up' } }]);
    expect(sends(withdrawn)).toEqual([]);
    expect(outcomes(withdrawn, 'suppressed-by-consent')[0]?.detail).toMatchObject({ consent: 'withdrawn', proof: expect.objectContaining({ event: 'Unsubscribed' }) });
  });

  const capPolicy = { ...DEFAULT_GUARD_RAILS, quietHours: undefined };
  const promoOn = (id: string, event: string, whenCapped: 'skip' | 'defer') => journey({ id, trigger: { event }, reentry: { allow: 'always' }, whenCapped, steps: [{ send: 'promo' }] });

  it('the frequency cap holds across two journeys: none within 16 h of the last; skipped or deferred per journey', () => {
    const events = [...optIn('p1', T0 - DAY), track('p1', 'Product Viewed', T0), track('p1', 'Cart Viewed', T0 + HOUR)];
    const skip = run(events, catalogue([promoOn('a', 'Product Viewed', 'skip'), promoOn('b', 'Cart Viewed', 'skip')], capPolicy));
    expect(sends(skip)).toEqual([['promo', iso(T0)]]);
    expect(outcomes(skip, 'capped')).toEqual([expect.objectContaining({ journeyId: 'b', detail: expect.objectContaining({ rule: 'email marketing: at most 3 per 7d, none within 16h of the last', action: 'skipped' }) })]);
    const defer = run(events, catalogue([promoOn('a', 'Product Viewed', 'skip'), promoOn('b', 'Cart Viewed', 'defer')], capPolicy));
    expect(sends(defer)).toEqual([
      ['promo', iso(T0)],
      ['promo', iso(T0 + 16 * HOUR)],
    ]);
  });

  it('at most 3 marketing mails in 7 days', () => {
    const events = [...optIn('p1', T0 - DAY), ...[0, 1, 2, 3, 4].map((day) => track('p1', 'Product Viewed', T0 + day * DAY))];
    const result = run(events, catalogue([promoOn('a', 'Product Viewed', 'skip')], capPolicy));
    expect(sends(result).map(([, at]) => at)).toEqual([iso(T0), iso(T0 + DAY), iso(T0 + 2 * DAY)]);
    expect(outcomes(result, 'capped')).toHaveLength(2);
  });

  it('quiet hours in the profile time zone defer a marketing send to the next allowed time', () => {
    const policy = { ...DEFAULT_GUARD_RAILS, caps: [] };
    // 22:30 in Zurich (21:30 UTC): deferred to 08:00 Zurich = 07:00 UTC.
    const result = run([...optIn('p1', T0), track('p1', 'Product Viewed', Date.parse('2026-03-02T21:30:00Z'), {}, { context: { timezone: 'Europe/Zurich' } })], catalogue([promoOn('a', 'Product Viewed', 'skip')], policy));
    expect(sends(result)).toEqual([['promo', '2026-03-03T07:00:00.000Z']]);
    expect(outcomes(result, 'deferred')[0]?.detail).toMatchObject({ reason: 'quiet hours', timeZone: 'Europe/Zurich' });
  });
});

describe('versions, pause and removal', () => {
  const twoStep = journey({ id: 'two-step', trigger: { event: 'Product Viewed' }, reentry: { allow: 'always' }, steps: [{ send: 'promo' }, { wait: '1d' }, { send: 'welcome-1' }] });

  function update(profileId: string, updateId: string, at: number, name: string): ProfileUpdateRecord {
    const state = { ...emptyProfileState(profileId), consent: { 'email.marketing': { grant: { at: 0, source: 'event' as const, messageId: 'g' }, confirmation: { at: 1, source: 'event' as const, messageId: 'c' } } } };
    return { updateId, profileId, at: iso(at), input: { kind: 'event', event: { type: 'track', event: name, messageId: updateId, timestamp: iso(at), properties: {} } as never }, state: state as never, segments: {}, changes: [] };
  }

  it('an instance keeps its version; pause stops new entries; removal cancels pending steps', () => {
    const v1 = buildCatalogue({ journeys: [{ version: 1, body: twoStep }], segments: [], templates: TEMPLATES, policy: { caps: [], defaultTimeZone: 'UTC' } });
    const first = stepJourneys(undefined, { kind: 'update', update: update('p1', 'u1', T0, 'Product Viewed') }, T0, v1);
    const changed = { ...twoStep, steps: [{ send: 'promo' }, { wait: '1d' }, { send: 'welcome-2' }] };
    const v2 = buildCatalogue({ journeys: [{ version: 2, body: changed }], previousJourneys: [{ version: 1, body: twoStep }], segments: [], templates: TEMPLATES, policy: { caps: [], defaultTimeZone: 'UTC' } });
    const woken = stepJourneys(first.state, { kind: 'timer' }, T0 + DAY, v2);
    expect(woken.effects.flatMap((effect) => (effect.kind === 'dispatch' && effect.request.channel === 'email' ? [effect.request.templateId] : []))).toEqual(['welcome-1']);

    const paused = buildCatalogue({ journeys: [{ version: 3, body: changed, status: 'paused' }], segments: [], templates: TEMPLATES, policy: { caps: [], defaultTimeZone: 'UTC' } });
    const noEntry = stepJourneys(undefined, { kind: 'update', update: update('p2', 'u2', T0, 'Product Viewed') }, T0, paused);
    expect(noEntry.effects.filter((effect) => effect.kind === 'dispatch')).toEqual([]);

    const removed = buildCatalogue({ journeys: [], segments: [], templates: TEMPLATES });
    const cancelled = stepJourneys(first.state, { kind: 'timer' }, T0 + DAY, removed);
    expect(cancelled.effects).toEqual([expect.objectContaining({ kind: 'outcome', outcome: expect.objectContaining({ kind: 'exited', detail: { reason: 'journey removed' } }) }), { kind: 'cancel-timer' }]);
  });

  it('a republished update (same updateId) changes nothing; the same inputs make the same decisions and ids', () => {
    const v1 = buildCatalogue({ journeys: [{ version: 1, body: twoStep }], segments: SEGMENTS.map((body) => ({ version: 1, body })), templates: TEMPLATES, policy: { caps: [], defaultTimeZone: 'UTC' } });
    const input = { kind: 'update' as const, update: update('p1', 'u1', T0, 'Product Viewed') };
    const first = stepJourneys(undefined, input, T0, v1);
    const again = stepJourneys(first.state, input, T0, v1);
    expect(again.effects).toEqual([{ kind: 'set-timer', dueAt: T0 + DAY }]);
    expect(stepJourneys(undefined, input, T0, v1)).toEqual(first);
  });
});

describe('a journey published after the profile was last seen', () => {
  const vip = journey({ id: 'vip', trigger: { threshold: { inSegment: 'big-spenders' } }, reentry: { allow: 'always' }, steps: [{ send: 'vip-thank-you' }] });
  const policy = { caps: [], defaultTimeZone: 'UTC' };
  const segments = SEGMENTS.map((body) => ({ version: 1, body }));
  const before = buildCatalogue({ journeys: [], segments, templates: TEMPLATES, policy });
  const after = buildCatalogue({ journeys: [{ version: 1, body: vip }], segments, templates: TEMPLATES, policy });
  const consented = (profileId: string) => ({ ...emptyProfileState(profileId), consent: { 'email.marketing': { grant: { at: 0, source: 'event' as const, messageId: 'g' }, confirmation: { at: 1, source: 'event' as const, messageId: 'c' } } } });
  const update = (profileId: string, updateId: string, at: number, member: boolean): ProfileUpdateRecord => ({
    updateId,
    profileId,
    at: iso(at),
    input: { kind: 'event', event: { type: 'track', event: 'Product Viewed', messageId: updateId, timestamp: iso(at), properties: {} } as never },
    state: consented(profileId) as never,
    segments: member ? { 'big-spenders': { version: 1, since: T0 - DAY } } : {},
    changes: [],
  });
  const mails = (effects: ReturnType<typeof stepJourneys>['effects']) => effects.filter((effect) => effect.kind === 'dispatch');

  it('a schedule pass starts the inactivity clock and the birthday of a stored profile that sends nothing more; a deadline already past is not made up for', () => {
    const winBack = journey({ id: 'win-back', trigger: { inactiveFor: '90d' }, reentry: { allow: 'always' }, steps: [{ send: 'win-back' }] });
    const birthday = journey({ id: 'birthday', trigger: { recurring: { date: 'birthday', every: 'year', at: '09:00' } }, reentry: { allow: 'always' }, steps: [{ send: 'birthday' }] });
    const published = buildCatalogue({ journeys: [winBack, birthday].map((body) => ({ version: 1, body })), segments, templates: TEMPLATES, policy });
    expect(scheduleFingerprint(published)).toBe('birthday@1,win-back@1');
    expect(scheduleFingerprint(before)).toBe('');
    const seen = (profileId: string, lastActivityAt: number) => {
      const state = { ...consented(profileId), lastActivityAt, traits: { birthday: { value: '1990-06-01', at: lastActivityAt, messageId: 'b' } } };
      return stepJourneys(undefined, { kind: 'update', update: { ...update(profileId, 'u1', lastActivityAt, false), state: state as never } }, lastActivityAt, before).state;
    };
    // Active 30 days before the publish, never again: the win-back comes 60 days after it, the birthday on 1 June.
    const published30 = stepJourneys(seen('p1', T0 - 30 * DAY), { kind: 'schedule' }, T0, published);
    expect(published30.effects).toContainEqual({ kind: 'set-timer', dueAt: T0 + 60 * DAY });
    expect(published30.state.recurring['birthday']).toMatchObject({ nextAt: Date.parse('2026-06-01T09:00:00Z') });
    expect(published30.state.inactivity['win-back']).toEqual({ since: T0 - 30 * DAY, dueAt: T0 + 60 * DAY, fired: false });
    const fired = stepJourneys(published30.state, { kind: 'timer' }, T0 + 60 * DAY, published);
    expect(mails(fired.effects)).toEqual([expect.objectContaining({ request: expect.objectContaining({ templateId: 'win-back' }) })]);
    // Inactive for 200 days when the journey is published: not mailed at once.
    const longGone = stepJourneys(seen('p2', T0 - 200 * DAY), { kind: 'schedule' }, T0, published);
    expect(longGone.state.inactivity['win-back']).toMatchObject({ fired: true });
    expect(mails(stepJourneys(longGone.state, { kind: 'timer' }, T0 + DAY, published).effects)).toEqual([]);
    // A second pass changes nothing.
    expect(stepJourneys(published30.state, { kind: 'schedule' }, T0 + 1, published)).toEqual({ state: published30.state, effects: [{ kind: 'set-timer', dueAt: T0 + 60 * DAY }] });
  });

  it("an inactivity deadline already past when the journey comes into force is not made up for, also by the profile's next update; a shortened inactiveFor likewise", () => {
    const winBack = (inactiveFor: string, version = 1) => buildCatalogue({ journeys: [{ version, body: journey({ id: 'win-back', trigger: { inactiveFor }, reentry: { allow: 'always' }, steps: [{ send: 'win-back' }] }) }], segments, templates: TEMPLATES, policy });
    const lastActive = T0 - 200 * DAY;
    const state = { ...consented('p1'), lastActivityAt: lastActive };
    const stored = stepJourneys(undefined, { kind: 'update', update: { ...update('p1', 'u1', lastActive, false), state: state as never } }, lastActive, before).state;
    // Her next update (an identify: no activity) comes before any schedule pass.
    const next = stepJourneys(stored, { kind: 'update', update: { ...update('p1', 'u2', T0, false), state: state as never } }, T0, winBack('90d'));
    expect(next.state.inactivity['win-back']).toMatchObject({ fired: true });
    expect(mails(stepJourneys(next.state, { kind: 'timer' }, T0 + DAY, winBack('90d')).effects)).toEqual([]);
    // Active 70 days ago, 90 days: due in 20 days; the journey shortened to 60 days: already past, not mailed.
    const recent = { ...consented('p2'), lastActivityAt: T0 - 70 * DAY };
    const scheduled = stepJourneys(undefined, { kind: 'update', update: { ...update('p2', 'u1', T0, false), state: recent as never } }, T0, winBack('90d')).state;
    expect(scheduled.inactivity['win-back']).toEqual({ since: T0 - 70 * DAY, dueAt: T0 + 20 * DAY, fired: false });
    const shortened = stepJourneys(scheduled, { kind: 'schedule' }, T0 + 1, winBack('60d', 2));
    expect(shortened.state.inactivity['win-back']).toMatchObject({ dueAt: T0 - 10 * DAY, fired: true });
    expect(mails(shortened.effects)).toEqual([]);
  });

  it('judges a threshold crossing against the profile as it was: long above the line is no crossing, rising above it is', () => {
    const longAbove = stepJourneys(undefined, { kind: 'update', update: update('p1', 'u1', T0, true) }, T0, before);
    expect(mails(stepJourneys(longAbove.state, { kind: 'update', update: update('p1', 'u2', T0 + DAY, true) }, T0 + DAY, after).effects)).toEqual([]);
    const below = stepJourneys(undefined, { kind: 'update', update: update('p2', 'u1', T0, false) }, T0, before);
    expect(mails(stepJourneys(below.state, { kind: 'update', update: update('p2', 'u2', T0 + DAY, true) }, T0 + DAY, after).effects)).toHaveLength(1);
    // Never seen before: its first update above the line is its crossing.
    expect(mails(stepJourneys(undefined, { kind: 'update', update: update('p3', 'u1', T0, true) }, T0, after).effects)).toHaveLength(1);
  });
});

describe('wire format', () => {
  it('every journey outcome validates against kairos:journey-outcome.v1', () => {
    const validator = new SchemaValidator(EVENT_SCHEMAS);
    const result = run([...optIn('p1', T0 - DAY), track('p1', 'Cart Updated', T0, { cartId: 'c1', products }), track('p2', 'Signed Up', T0)], [cart, welcome], T0 + 10 * DAY);
    const all = outcomes(result);
    expect(all.length).toBeGreaterThan(4);
    for (const outcome of all) expect(validator.validate(SchemaIds.journeyOutcome, JSON.parse(JSON.stringify(outcome)))).toMatchObject({ valid: true });
  });
});

describe('merges', () => {
  it('a merged-away profile brings its instances, entries and cap history: no second welcome, the caps count both', () => {
    const policy = { caps: [{ channel: 'email' as const, purpose: 'marketing' as const, minGap: 16 * HOUR }], defaultTimeZone: 'UTC' };
    const c = buildCatalogue({ journeys: [{ version: 1, body: welcome }], segments: SEGMENTS.map((body) => ({ version: 1, body })), templates: TEMPLATES, policy });
    const loserState = simulateState([...optIn('a', T0 - HOUR), track('a', 'Signed Up', T0)], c);
    const survivorState = simulateState([...optIn('b', T0 - HOUR)], c);
    expect(loserState.instances).toHaveLength(1);
    const merged = mergeJourneysStates(survivorState, loserState);
    expect(merged.instances).toHaveLength(1);
    expect(merged.entries['welcome-series']).toEqual({ count: 1, lastAt: T0 });
    expect(merged.sent).toHaveLength(1);
    expect(mergeJourneysStates(merged, loserState)).toEqual(merged);
    // Once its instance has finished, a second copy of the loser's hand-over brings nothing back.
    const finished = { ...merged, instances: [] };
    expect(mergeJourneysStates(finished, loserState)).toBe(finished);
    // The survivor signs up too: the merged profile is not welcomed twice.
    const signUp = simulateStateFrom(merged, [track('b', 'Signed Up', T0 + HOUR)], c);
    expect(signUp.instances).toHaveLength(1);
  });
});

/** The journeys state a profile reaches after these events (its last decision's state). */
function simulateState(events: Parameters<typeof run>[0], c: ReturnType<typeof buildCatalogue>) {
  return simulateStateFrom(undefined, events, c);
}

function simulateStateFrom(from: ReturnType<typeof stepJourneys>['state'] | undefined, events: Parameters<typeof run>[0], c: ReturnType<typeof buildCatalogue>) {
  let state = from;
  for (const event of events) {
    const profileId = String(event.profileId);
    const update: ProfileUpdateRecord = { updateId: `${profileId}/${event.messageId}`, profileId, at: event.timestamp, input: { kind: 'event', event: { ...event, profileId } as never }, state: { ...emptyProfileState(profileId), consent: { 'email.marketing': { grant: { at: 0, source: 'event', messageId: 'g' }, confirmation: { at: 1, source: 'event', messageId: 'c' } } } } as never, segments: { 'email-subscribers': { version: 1, since: 0 } }, changes: [] };
    state = stepJourneys(state, { kind: 'update', update }, Date.parse(event.timestamp), c).state;
  }
  if (!state) throw new Error('no events');
  return state;
}
