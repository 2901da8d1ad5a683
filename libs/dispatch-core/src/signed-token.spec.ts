import { SigningKeys, signingKeyProblems, signToken, TokenClaims, urlHash, verifyClickToken, verifyToken } from './signed-token';

const OLD = { id: 'k2025', secret: 'an old secret of at least 32 bytes....' };
const KEYS: SigningKeys = { current: { id: 'k2026', secret: 'the current secret, 32 bytes or more' }, previous: [OLD] };
const UNSUBSCRIBE: TokenClaims = { purpose: 'unsubscribe', profileId: 'p-1', dispatchId: 'd-abc' };

function flip(part: string): string {
  return part.slice(0, -2) + (part.at(-2) === 'A' ? 'B' : 'A') + part.at(-1);
}

describe('signed tokens', () => {
  it('verifies what it signed, base64url only', () => {
    const token = signToken(UNSUBSCRIBE, KEYS);
    expect(token).toMatch(/^k2026\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyToken(token, 'unsubscribe', KEYS)).toEqual({ ok: true, claims: UNSUBSCRIBE, keyId: 'k2026' });
  });

  it('refuses altered, forged and mangled tokens with a typed reason', () => {
    const [keyId, body, signature] = signToken(UNSUBSCRIBE, KEYS).split('.') as [string, string, string];
    const otherProfile = Buffer.from(JSON.stringify({ u: 'unsubscribe', p: 'p-2', d: 'd-abc' })).toString('base64url');
    expect(verifyToken(`${keyId}.${otherProfile}.${signature}`, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyToken(`${keyId}.${body}.${flip(signature)}`, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyToken(`${keyId}.${body}.${signature.slice(0, 20)}`, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'bad-signature' });
    const forged = signToken(UNSUBSCRIBE, { current: { id: 'k2026', secret: 'a guess at the secret, 32 bytes long' }, previous: [] });
    expect(verifyToken(forged, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'bad-signature' });
    // The key id is signed too: a token cannot be moved to another key.
    expect(verifyToken(`k2025.${body}.${signature}`, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyToken(`nokey.${body}.${signature}`, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'unknown-key' });
    for (const mangled of ['', 'a.b', 'a.b.c.d', `${keyId}.${body}.${signature}=`, `${keyId}..${signature}`, 'ü.b.c']) {
      expect(verifyToken(mangled, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('accepts a token for its own purpose only', () => {
    const open = signToken({ ...UNSUBSCRIBE, purpose: 'open' }, KEYS);
    expect(verifyToken(open, 'unsubscribe', KEYS)).toEqual({ ok: false, reason: 'wrong-purpose' });
    expect(verifyToken(open, 'open', KEYS).ok).toBe(true);
  });

  it('rotates keys: a token of the previous key still verifies, one of a retired key does not', () => {
    const old = signToken(UNSUBSCRIBE, { current: OLD, previous: [] });
    expect(verifyToken(old, 'unsubscribe', KEYS)).toEqual({ ok: true, claims: UNSUBSCRIBE, keyId: 'k2025' });
    expect(verifyToken(old, 'unsubscribe', { current: KEYS.current, previous: [] })).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('lets a click token open only the link it was made for', () => {
    const url = 'https://shop.example/p/jacket?ref=mail';
    const token = signToken({ purpose: 'click', profileId: 'p-1', dispatchId: 'd-abc', link: { index: 3, urlHash: urlHash(url) } }, KEYS);
    expect(verifyClickToken(token, url, KEYS)).toMatchObject({ ok: true, claims: { link: { index: 3 } } });
    expect(verifyClickToken(token, 'https://evil.example/', KEYS)).toEqual({ ok: false, reason: 'link-mismatch' });
    expect(verifyClickToken(token, `${url}&x=1`, KEYS)).toEqual({ ok: false, reason: 'link-mismatch' });
    expect(verifyClickToken(signToken(UNSUBSCRIBE, KEYS), url, KEYS)).toEqual({ ok: false, reason: 'wrong-purpose' });
  });

  it('names weak or clashing keys from configuration', () => {
    expect(signingKeyProblems(KEYS)).toEqual([]);
    expect(signingKeyProblems({ current: { id: 'a.b', secret: 'short' }, previous: [{ id: 'a.b', secret: 'x'.repeat(32) }] })).toEqual([
      'key id "a.b" must be 1-16 characters of [A-Za-z0-9_-]',
      'key "a.b" is shorter than 32 bytes',
      'key id "a.b" must be 1-16 characters of [A-Za-z0-9_-]',
      'key ids must be unique: a.b, a.b',
    ]);
  });
});
