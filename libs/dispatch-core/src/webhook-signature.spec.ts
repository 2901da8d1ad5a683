import { signWebhook, verifyWebhook } from './webhook-signature';

const secret = 'a'.repeat(32);

describe('webhook signatures', () => {
  it('verifies its own signature and refuses a changed body, another secret or an old timestamp', () => {
    const header = signWebhook(secret, '{"a":1}', 1_000);
    expect(header).toMatch(/^t=1000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook(secret, '{"a":1}', header, 1_010)).toBe(true);
    expect(verifyWebhook(secret, '{"a":2}', header, 1_010)).toBe(false);
    expect(verifyWebhook('b'.repeat(32), '{"a":1}', header, 1_010)).toBe(false);
    expect(verifyWebhook(secret, '{"a":1}', header, 2_000)).toBe(false);
    expect(verifyWebhook(secret, '{"a":1}', 'garbage', 1_000)).toBe(false);
  });
});
