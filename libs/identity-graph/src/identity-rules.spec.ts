import { exceedsLimit, IdentityRules } from './identity-rules';

const DAY = 24 * 60 * 60 * 1000;

describe('IdentityRules', () => {
  it('has the documented defaults and lets configuration override one field of a rule', () => {
    const rules = new IdentityRules({ rules: [{ type: 'email', limit: 1 }, { type: 'crm_id', priority: 2, unique: true }] });
    expect(rules.ruleFor('user_id')).toEqual({ type: 'user_id', priority: 1, limit: 1, unique: true });
    expect(rules.ruleFor('email')).toEqual({ type: 'email', priority: 2, limit: 1, unique: false });
    expect(rules.ruleFor('anonymous_id')).toMatchObject({ limit: 5, windowMs: 7 * DAY });
    expect(rules.ruleFor('crm_id')).toEqual({ type: 'crm_id', priority: 2, limit: 5, unique: true });
    expect(rules.ruleFor('shop_id')).toEqual({ type: 'shop_id', priority: 4, limit: 5, unique: false });
    expect(rules.caps).toEqual({ mergesPerProfile: 100, identifiersPerProfile: 1000, profilesPerIdentifier: 50 });
  });

  it('refuses a rule that could never hold an identifier', () => {
    expect(() => new IdentityRules({ rules: [{ type: 'email', limit: 0 }] })).toThrow('identity rule for email: limit and priority must be at least 1');
  });

  it('orders types weakest first, deterministically', () => {
    const rules = new IdentityRules();
    const order = rules.weakestFirst([
      { type: 'user_id', value: 'u' },
      { type: 'email', value: 'e' },
      { type: 'anonymous_id', value: 'a' },
      { type: 'device_id', value: 'd' },
      { type: 'advertising_id', value: 'ad' },
    ]);
    expect(order).toEqual(['anonymous_id', 'device_id', 'advertising_id', 'email', 'user_id']);
  });
});

describe('exceedsLimit', () => {
  it('counts all values without a window', () => {
    expect(exceedsLimit([1, 2], { limit: 2 })).toBe(false);
    expect(exceedsLimit([1, 2, 3], { limit: 2 })).toBe(true);
  });

  it('counts values within any one window span', () => {
    const rule = { limit: 2, windowMs: 7 * DAY };
    expect(exceedsLimit([0, 1 * DAY, 8 * DAY, 9 * DAY], rule)).toBe(false);
    expect(exceedsLimit([0, 6 * DAY, 1 * DAY], rule)).toBe(true);
  });
});
