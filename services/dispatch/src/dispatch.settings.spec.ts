import { loadDispatchConfig } from './dispatch.config';
import { dispatchSettings, namedWebhookSecrets } from './dispatch.settings';

describe('the secrets webhook steps may name', () => {
  it('are the variables ending in _WEBHOOK_SECRET of at least 32 bytes; a shorter one is left out with a warning naming it', () => {
    const warnings: string[] = [];
    const secrets = namedWebhookSecrets(
      {
        VIP_WEBHOOK_SECRET: 'a-vip-secret-of-at-least-32-bytes-long',
        SHORT_WEBHOOK_SECRET: 'too short',
        JWT_SECRET: 'a key meant for something else, 32 bytes or more',
        DATABASE_URL: 'postgres://user:password-of-more-than-32-bytes@db/kairos',
        lower_case_WEBHOOK_SECRET: 'not a variable name a step can write, 32+ bytes',
      },
      (message) => warnings.push(message),
    );
    expect([...secrets.keys()]).toEqual(['VIP_WEBHOOK_SECRET']);
    expect(warnings).toEqual(['SHORT_WEBHOOK_SECRET is shorter than 32 bytes: webhook steps naming it are signed with WEBHOOK_SECRET']);
  });
});

describe('the bounce endpoint', () => {
  it('warns when it is public (an https address) and open to anyone (no DISPATCH_BOUNCE_TOKEN)', () => {
    const warnings: string[] = [];
    const keys = JSON.stringify({ current: { id: 'k1', secret: 'a-signing-secret-of-at-least-32-bytes-long' }, previous: [] });
    const env = { DISPATCH_PUBLIC_URL: 'https://mail.shop.example', DISPATCH_SIGNING_KEYS: keys };
    dispatchSettings(loadDispatchConfig(env), (message) => warnings.push(message), env);
    expect(warnings).toEqual(['DISPATCH_BOUNCE_TOKEN is unset: anyone who reaches POST /bounces can mark an address bounced; set it for the mail system that reports bounces']);
    warnings.length = 0;
    dispatchSettings(loadDispatchConfig({ ...env, DISPATCH_BOUNCE_TOKEN: 'a-token' }), (message) => warnings.push(message), env);
    expect(warnings).toEqual([]);
  });
});
