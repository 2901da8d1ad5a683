import { ProfileEvent, applyEvent } from './apply-event';
import { mergeProfiles } from './merge-profiles';
import { buildModelFromRules } from './profile-model';
import { ProfileState, emptyProfileState } from './profile-state';
import { parseRule } from './rule';
import { DAY, T0, identify, page, track } from './testing/profile-events';

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rules = [
  { aggregate: { sum: 'revenue', of: 'Order Completed', where: [{ property: 'currency', equals: 'CHF' }] }, atLeast: 5000 },
  { aggregate: { max: 'revenue', of: 'Order Completed', within: '30d' }, atLeast: 100 },
  { aggregate: { last: 'coupon', of: 'Order Completed' }, exists: true },
  { performed: 'Order Completed', atLeast: 3, within: '30d' },
  { score: { points: { 'Email Clicked': 5, 'Product Viewed': 1 }, halfLife: '7d' }, atLeast: 10 },
  { score: { points: { 'Email Opened': 2 } }, atLeast: 10 },
].map(parseRule);
const model = buildModelFromRules(rules, { limits: { messageIds: 16 } });

function randomEvent(random: () => number): ProfileEvent {
  const day = Math.floor(random() * 120);
  const pickOne = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  switch (Math.floor(random() * 9)) {
    case 0:
      return identify({ plan: pickOne(['free', 'pro', 'team']), [`t${Math.floor(random() * 4)}`]: day }, day, { context: { timezone: pickOne(['Europe/Zurich', 'UTC']) } });
    case 1:
      return track('Order Completed', day, { revenue: Math.floor(random() * 4000), currency: pickOne(['CHF', 'EUR']), coupon: pickOne([undefined, 'A', 'B']) });
    case 2:
      return track(pickOne(['Subscribed', 'Unsubscribed', 'Subscription Confirmed']), day);
    case 3:
      return track('Viewed', day, {}, { context: { consent: { categoryPreferences: { Marketing: random() < 0.5 } } } });
    case 4:
      return page(day);
    case 5:
      return track(pickOne(['Email Opened', 'Email Clicked']), day);
    case 6:
      return track('Product Viewed', day);
    default:
      return track('Order Completed', day, { revenue: Math.floor(random() * 300), currency: 'CHF' });
  }
}

const now = T0 + 150 * DAY;
const fold = (profileId: string, events: ProfileEvent[]): ProfileState =>
  events.reduce((state, event) => applyEvent(state, event, model, now).state, emptyProfileState(profileId));

describe('mergeProfiles', () => {
  it('folding the loser into the survivor equals applying every event under the survivor (200 random cases)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const events = Array.from({ length: 1 + Math.floor(random() * 40) }, () => randomEvent(random));
      const toLoser = events.map(() => random() < 0.5);
      const survivor = fold('a', events.filter((_, i) => !toLoser[i]));
      const loser = fold('b', events.filter((_, i) => toLoser[i]));
      const together = fold('a', events);
      expect({ seed, state: mergeProfiles(survivor, loser, model) }).toEqual({ seed, state: together });
    }
  });

  it('reaches the same state whatever order the events arrive in (a replay after a rebalance, late events)', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = prng(seed);
      const events = Array.from({ length: 1 + Math.floor(random() * 40) }, () => randomEvent(random));
      const shuffled = events.map((event) => ({ event, key: random() })).sort((a, b) => a.key - b.key).map((e) => e.event);
      expect({ seed, state: fold('a', shuffled) }).toEqual({ seed, state: fold('a', events) });
    }
  });

  it('keeps the earliest first-seen, the latest trait and the most recent explicit consent choice', () => {
    const survivor = fold('a', [identify({ plan: 'pro' }, 10), track('Subscribed', 10)]);
    const loser = fold('b', [identify({ plan: 'free' }, 2), track('Unsubscribed', 20)]);
    const merged = mergeProfiles(survivor, loser, model);
    expect(merged.profileId).toBe('a');
    expect(merged.firstSeenAt).toBe(T0 + 2 * DAY);
    expect(merged.traits.plan.value).toBe('pro');
    expect(merged.consent['email.marketing']?.withdrawal?.at).toBe(T0 + 20 * DAY);
  });
});
