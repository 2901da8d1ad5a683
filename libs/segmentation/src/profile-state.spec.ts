import { applyEvent } from './apply-event';
import { aggregateValue } from './series';
import { buildModelFromRules, DEFAULT_CONSENT, profileModelOptions, seriesKey } from './profile-model';
import { consentStatus } from './consent';
import { engagementLevel, lifecycleStage } from './derived';
import { ProfileEvent } from './apply-event';
import { ProfileState, emptyProfileState } from './profile-state';
import { parseRule } from './rule';
import { DAY, T0, at, identify, page, track } from './testing/profile-events';

const lifetimeRevenue = parseRule({ aggregate: { sum: 'revenue', of: 'Order Completed', where: [{ property: 'currency', equals: 'CHF' }] }, atLeast: 5000 });
const model = buildModelFromRules([lifetimeRevenue]);

function applyAll(events: ProfileEvent[], now = T0 + 400 * DAY): ProfileState {
  return events.reduce((state, event) => applyEvent(state, event, model, now).state, emptyProfileState('p-1'));
}

describe('profile state', () => {
  it('keeps the latest value of each trait with when it was set, from identify and context.traits', () => {
    const state = applyAll([
      identify({ plan: 'pro', firstName: 'Ada' }, 2),
      identify({ plan: 'free' }, 1),
      track('Viewed', 3, {}, { context: { traits: { firstName: 'Adele' }, timezone: 'Europe/Zurich', locale: 'de-CH' } }),
    ]);
    expect(state.traits.plan).toMatchObject({ value: 'pro', at: T0 + 2 * DAY });
    expect(state.traits.firstName.value).toBe('Adele');
    expect(state.timeZone?.value).toBe('Europe/Zurich');
    expect(state.locale?.value).toBe('de-CH');
  });

  it('sets the traits of a journey\'s updateProfile without counting it as the customer being seen', () => {
    const seen = applyAll([track('Viewed', 3)]);
    const updated = applyEvent(seen, { ...identify({ tier: 'vip' }, 9), context: { kairos: { profileId: 'p-1' } } }, model, T0 + 400 * DAY).state;
    expect(updated.traits.tier).toMatchObject({ value: 'vip', at: T0 + 9 * DAY });
    expect([updated.firstSeenAt, updated.lastSeenAt]).toEqual([T0 + 3 * DAY, T0 + 3 * DAY]);
    // The customer's own identify is a sighting.
    expect(applyEvent(seen, identify({ tier: 'gold' }, 9), model, T0 + 400 * DAY).state.lastSeenAt).toBe(T0 + 9 * DAY);
  });

  it("does not count an open, a bounce or a complaint as the customer being active; a click counts", () => {
    const viewed = applyAll([track('Product Viewed', 1)]);
    const facts = applyAll([track('Product Viewed', 1), track('Email Opened', 5), track('Email Bounced', 6, { bounceType: 'hard' }), track('Email Marked as Spam', 7)]);
    expect(facts).toMatchObject({ lastActivityAt: T0 + DAY, lastSeenAt: T0 + DAY });
    expect(facts.lastActivityAt).toBe(viewed.lastActivityAt);
    expect(applyAll([track('Product Viewed', 1), track('Email Clicked', 8)])).toMatchObject({ lastActivityAt: T0 + 8 * DAY, lastSeenAt: T0 + 8 * DAY });
  });

  it('takes the sign-up date from createdAt or the Signed Up event', () => {
    expect(applyAll([identify({ createdAt: at(5) }, 5)]).traits.signedUpAt.value).toBe(at(5));
    expect(applyAll([track('Signed Up', 7)]).traits.signedUpAt.value).toBe(at(7));
  });

  it('does not count a redelivered event twice', () => {
    const order = track('Order Completed', 1, { revenue: 100, currency: 'CHF' });
    const once = applyAll([order]);
    const again = applyEvent(once, order, model, T0 + 400 * DAY);
    expect(again.duplicate).toBe(true);
    expect(again.state).toBe(once);
  });

  it('keeps lifetime revenue as a sum over the filtered orders, not a list of them', () => {
    const state = applyAll([
      track('Order Completed', 1, { revenue: 3000, currency: 'CHF' }),
      track('Order Completed', 2, { revenue: 9000, currency: 'EUR' }),
      track('Order Completed', 3, { revenue: 2500, currency: 'CHF' }),
    ]);
    if (lifetimeRevenue.kind !== 'aggregate') throw new Error('aggregate expected');
    const spec = model.series[seriesKey(lifetimeRevenue.aggregate.selector)];
    expect(aggregateValue(state.series[spec.key], spec, lifetimeRevenue.aggregate, T0 + 10 * DAY).value).toBe(5500);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it('derives lifecycle stages from orders and activity, with the time of the next transition', () => {
    const now = T0 + 10 * DAY;
    expect(lifecycleStage(applyAll([page(9)]), model, now).value).toBe('new');
    const customer = applyAll([page(0), track('Order Completed', 5)]);
    expect(lifecycleStage(customer, model, now)).toEqual({ value: 'customer', changesAt: T0 + 95 * DAY + 1 });
    const repeat = applyAll([track('Order Completed', 5), track('Order Completed', 6)]);
    expect(lifecycleStage(repeat, model, now).value).toBe('repeat-customer');
    expect(lifecycleStage(customer, model, T0 + 100 * DAY).value).toBe('at-risk');
    expect(lifecycleStage(customer, model, T0 + 300 * DAY).value).toBe('lapsed');
  });

  it('rates engagement high, moderate or passive from e-mail opens, clicks and visits in the last 30 days', () => {
    const now = T0 + 20 * DAY;
    const high = applyAll([track('Email Clicked', 10), track('Email Clicked', 11), track('Email Opened', 12), page(13), page(14), page(15), page(16)], now);
    expect(engagementLevel(high, model, now).value).toBe('high');
    const moderate = applyAll([track('Email Opened', 10), page(11), page(12)], now);
    expect(engagementLevel(moderate, model, now).value).toBe('moderate');
    expect(engagementLevel(moderate, model, T0 + 60 * DAY).value).toBe('passive');
    expect(engagementLevel(applyAll([track('Email Opened', 10)], now), model, now).value).toBe('passive');
  });
});

describe('a profile-model definition', () => {
  const options = profileModelOptions({
    kind: 'profile-model',
    id: 'default',
    consent: { doubleOptIn: [], events: { 'Newsletter Signup': { signal: 'grant', purposes: ['email.marketing'] } }, categories: { Werbung: ['email.marketing'] } },
    lifecycle: { newFor: '7d', repeatFrom: 3 },
    engagement: { points: { 'Email Clicked': 10 }, high: 20 },
  });
  const configured = buildModelFromRules([lifetimeRevenue], options);
  const applyWith = (events: ProfileEvent[], now = T0 + 400 * DAY) => events.reduce((state, event) => applyEvent(state, event, configured, now).state, emptyProfileState('p-1'));

  it('adds its consent events and categories to the defaults and sets which purposes need a confirmation', () => {
    expect(configured.consent.events).toEqual({ ...DEFAULT_CONSENT.events, 'Newsletter Signup': { signal: 'grant', purposes: ['email.marketing'] } });
    expect(configured.consent.categories.werbung).toEqual(['email.marketing']);
    const signedUp = applyWith([track('Newsletter Signup', 1)]);
    expect(consentStatus(signedUp.consent['email.marketing'], configured.consent.doubleOptIn.includes('email.marketing')).status).toBe('granted');
    expect(applyAll([track('Newsletter Signup', 1)]).consent['email.marketing']).toBeUndefined();
  });

  it('sets the lifecycle and engagement thresholds it names and keeps the defaults of the rest', () => {
    const now = T0 + 10 * DAY;
    expect(lifecycleStage(applyWith([page(2)]), configured, now).value).toBe('active');
    expect(lifecycleStage(applyAll([page(2)]), model, now).value).toBe('new');
    expect(lifecycleStage(applyWith([track('Order Completed', 5), track('Order Completed', 6)]), configured, now).value).toBe('customer');
    expect(configured.lifecycle.lapsedAfter).toBe(model.lifecycle.lapsedAfter);
    expect(engagementLevel(applyWith([track('Email Clicked', 8), track('Email Clicked', 9)], now), configured, now).value).toBe('high');
    expect(configured.engagement.window).toBe(model.engagement.window);
    expect(profileModelOptions(undefined)).toEqual({});
  });
});

describe('consent', () => {
  const optIn = (day: number) =>
    track('Subscribed', day, { wording: 'Yes, send me news', formVersion: 'footer-v3' }, {
      context: { ip: '203.0.113.7', userAgent: 'Firefox', page: { url: 'https://shop.example/newsletter' } },
    });
  const marketing = (state: ProfileState) => consentStatus(state.consent['email.marketing'], false);
  const doubleOptIn = (state: ProfileState) => consentStatus(state.consent['email.marketing'], true);

  it('records an opt-in with its proof', () => {
    const subscribe = optIn(1);
    expect(marketing(applyAll([subscribe]))).toEqual({
      status: 'granted',
      proof: {
        at: T0 + DAY, source: 'event', event: 'Subscribed', messageId: subscribe.messageId, ip: '203.0.113.7', userAgent: 'Firefox',
        page: 'https://shop.example/newsletter', wording: 'Yes, send me news', formVersion: 'footer-v3',
      },
    });
  });

  it('lets a withdrawal win over an older opt-in, whatever order they arrive in', () => {
    const events = [track('Unsubscribed', 5), optIn(3)];
    expect(marketing(applyAll(events)).status).toBe('withdrawn');
    expect(marketing(applyAll([...events].reverse())).status).toBe('withdrawn');
    expect(marketing(applyAll([...events, optIn(6)])).status).toBe('granted');
  });

  it('never lets an implicit categoryPreferences grant override a withdrawal', () => {
    const implicitYes = track('Viewed', 9, {}, { context: { consent: { categoryPreferences: { Marketing: true } } } });
    expect(marketing(applyAll([track('Email Unsubscribed', 5), implicitYes])).status).toBe('withdrawn');
    expect(marketing(applyAll([implicitYes])).status).toBe('granted');
    const implicitNo = track('Viewed', 9, {}, { context: { consent: { categoryPreferences: { marketing: false } } } });
    expect(marketing(applyAll([optIn(3), implicitNo])).status).toBe('withdrawn');
  });

  it('keeps double opt-in pending until the confirmation, and pending again after a withdrawal', () => {
    expect(doubleOptIn(applyAll([optIn(1)])).status).toBe('pending');
    expect(doubleOptIn(applyAll([optIn(1), track('Subscription Confirmed', 2)])).status).toBe('granted');
    expect(doubleOptIn(applyAll([optIn(1), track('Subscription Confirmed', 2), track('Unsubscribed', 3), optIn(4)])).status).toBe('pending');
  });

  it("leaves e-mail consent alone on another channel's opt-in or opt-out", () => {
    expect(marketing(applyAll([track('Subscribed', 1, { channel: 'sms' })])).status).not.toBe('granted');
    expect(marketing(applyAll([optIn(1), track('Unsubscribed', 2, { channel: 'sms', purpose: 'marketing' })])).status).toBe('granted');
    expect(marketing(applyAll([optIn(1), track('Unsubscribed', 2, { channel: 'email' })])).status).toBe('withdrawn');
    // E-mail under another spelling, or a channel it cannot place: a withdrawal still withdraws; a grant grants nothing.
    expect(marketing(applyAll([optIn(1), track('Unsubscribed', 2, { channel: 'E-Mail' })])).status).toBe('withdrawn');
    expect(marketing(applyAll([optIn(1), track('Unsubscribed', 2, { channel: 'newsletter-v2' })])).status).toBe('withdrawn');
    expect(marketing(applyAll([optIn(1), track('Unsubscribed', 2, { channel: null })])).status).toBe('withdrawn');
    expect(marketing(applyAll([track('Subscribed', 1, { channel: 'newsletter-v2' })])).status).not.toBe('granted');
    expect(marketing(applyAll([track('Subscribed', 1, { channel: 'Email' })])).status).toBe('granted');
  });

  it('withdraws both purposes on a hard bounce, not on a soft one', () => {
    const soft = applyAll([optIn(1), track('Email Bounced', 2, { bounceType: 'soft' })]);
    expect(marketing(soft).status).toBe('granted');
    const hard = applyAll([optIn(1), track('Email Bounced', 2, { bounceType: 'hard' })]);
    expect(marketing(hard).status).toBe('withdrawn');
    expect(consentStatus(hard.consent['email.transactional'], false).status).toBe('withdrawn');
  });

  it('withdraws marketing on a spam complaint, with the complaint as proof; transactional mail stays allowed', () => {
    const complained = applyAll([optIn(1), track('Email Marked as Spam', 2, { channel: 'email', dispatchId: 'd1' })]);
    expect(marketing(complained)).toMatchObject({ status: 'withdrawn', proof: expect.objectContaining({ event: 'Email Marked as Spam' }) });
    expect(consentStatus(complained.consent['email.transactional'], false).status).not.toBe('withdrawn');
  });
});
