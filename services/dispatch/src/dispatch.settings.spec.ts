import { namedWebhookSecrets } from './dispatch.settings';

describe('the secrets webhook steps may name', () => {
  it('are the variables ending in _SECRET of at least 32 bytes; a shorter one is left out with a warning naming it', () => {
    const warnings: string[] = [];
    const secrets = namedWebhookSecrets(
      {
        VIP_WEBHOOK_SECRET: 'a-vip-secret-of-at-least-32-bytes-long',
        SHORT_SECRET: 'too short',
        DATABASE_URL: 'postgres://user:password-of-more-than-32-bytes@db/kairos',
        lower_case_SECRET: 'not a variable name a step can write, 32+ bytes',
      },
      (message) => warnings.push(message),
    );
    expect([...secrets.keys()]).toEqual(['VIP_WEBHOOK_SECRET']);
    expect(warnings).toEqual(['SHORT_SECRET is shorter than 32 bytes: webhook requests naming it fail (never sent unsigned)']);
  });
});
