import { ConfigError } from '@kairos/config';
import { guardRailPolicy, loadTriggersConfig } from './triggers.config';

describe('triggers configuration', () => {
  it('reads the frequency cap and quiet hours, with Klaviyo-like defaults', () => {
    expect(guardRailPolicy(loadTriggersConfig({}))).toEqual({
      caps: [{ channel: 'email', purpose: 'marketing', max: 3, per: 7 * 86_400_000, minGap: 16 * 3_600_000 }],
      quietHours: { start: { hour: 21, minute: 0 }, end: { hour: 8, minute: 0 }, purposes: ['marketing'] },
      defaultTimeZone: 'UTC',
    });
    expect(guardRailPolicy(loadTriggersConfig({ TRIGGERS_MARKETING_EMAIL_CAP: '2/1d', TRIGGERS_QUIET_HOURS: 'off' }))).toEqual({ caps: [{ channel: 'email', purpose: 'marketing', max: 2, per: 86_400_000 }], defaultTimeZone: 'UTC' });
    expect(guardRailPolicy(loadTriggersConfig({ TRIGGERS_MARKETING_EMAIL_CAP: '12h' })).caps).toEqual([{ channel: 'email', purpose: 'marketing', minGap: 43_200_000 }]);
    expect(guardRailPolicy(loadTriggersConfig({ TRIGGERS_MARKETING_EMAIL_CAP: 'off' })).caps).toEqual([]);
  });

  it('caps other purposes per channel and purpose with TRIGGERS_CAPS, the same form', () => {
    expect(guardRailPolicy(loadTriggersConfig({ TRIGGERS_CAPS: 'email.transactional=20/1d' })).caps).toEqual([
      { channel: 'email', purpose: 'marketing', max: 3, per: 7 * 86_400_000, minGap: 16 * 3_600_000 },
      { channel: 'email', purpose: 'transactional', max: 20, per: 86_400_000 },
    ]);
    expect(guardRailPolicy(loadTriggersConfig({ TRIGGERS_CAPS: 'email.transactional=1m', TRIGGERS_MARKETING_EMAIL_CAP: 'off' })).caps).toEqual([{ channel: 'email', purpose: 'transactional', minGap: 60_000 }]);
    // Marketing e-mail has its own variable, webhooks no cap, and a cap is never empty.
    for (const refused of ['email.marketing=1/1d', 'webhook.marketing=1/1h', 'email.transactional=', 'email.transactional=often']) {
      expect(() => loadTriggersConfig({ TRIGGERS_CAPS: refused })).toThrow(/TRIGGERS_CAPS/);
    }
  });

  it('refuses a malformed cap or quiet-hours window, naming the variable', () => {
    expect(() => loadTriggersConfig({ TRIGGERS_MARKETING_EMAIL_CAP: 'three a week' })).toThrow(ConfigError);
    expect(() => loadTriggersConfig({ TRIGGERS_QUIET_HOURS: '9pm-8am' })).toThrow(/TRIGGERS_QUIET_HOURS/);
    expect(() => loadTriggersConfig({ TRIGGERS_DEFAULT_TIME_ZONE: 'Mars/Olympus' })).toThrow(/TRIGGERS_DEFAULT_TIME_ZONE must be an IANA time zone/);
  });
});
