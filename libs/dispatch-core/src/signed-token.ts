import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** What a token lets its bearer do: each endpoint accepts only its own purpose. */
export type TokenPurpose = 'unsubscribe' | 'confirm' | 'open' | 'click';

export interface TokenClaims {
  purpose: TokenPurpose;
  profileId: string;
  dispatchId: string;
  /** Click tokens only: which link of the mail (document order) and the hash of its URL. */
  link?: { index: number; urlHash: string };
}

export interface SigningKey {
  /** Short and URL-safe ([A-Za-z0-9_-], at most 16): it travels in every token. */
  id: string;
  /** At least 32 bytes of randomness (HMAC-SHA256's block of security). */
  secret: string | Buffer;
}

/** Tokens are signed with `current`; `previous` keys still verify, so a key can rotate while old mails are read. */
export interface SigningKeys {
  current: SigningKey;
  previous: readonly SigningKey[];
}

export type TokenRefusal = 'malformed' | 'unknown-key' | 'bad-signature' | 'wrong-purpose' | 'link-mismatch';

export type TokenVerification = { ok: true; claims: TokenClaims; keyId: string } | { ok: false; reason: TokenRefusal };

const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;
const PURPOSES: readonly TokenPurpose[] = ['unsubscribe', 'confirm', 'open', 'click'];

/** Problems with keys from configuration, for the service to refuse to start with (empty: fine). */
export function signingKeyProblems(keys: SigningKeys): string[] {
  const all = [keys.current, ...keys.previous];
  const problems = all.flatMap((key) => [
    ...(KEY_ID.test(key.id) ? [] : [`key id "${key.id}" must be 1-16 characters of [A-Za-z0-9_-]`]),
    ...(Buffer.byteLength(key.secret) >= 32 ? [] : [`key "${key.id}" is shorter than 32 bytes`]),
  ]);
  const ids = all.map((key) => key.id);
  if (new Set(ids).size !== ids.length) problems.push(`key ids must be unique: ${ids.join(', ')}`);
  return problems;
}

/**
 * `<key id>.<claims>.<signature>`, all base64url: HMAC-SHA256 over the key id and the claims, so neither can be
 * changed without the key. Claims are readable (a profile id and a dispatch id), not secret; they are unguessable
 * only together with the signature.
 */
export function signToken(claims: TokenClaims, keys: SigningKeys): string {
  const body = Buffer.from(JSON.stringify(encodeClaims(claims))).toString('base64url');
  const signed = `${keys.current.id}.${body}`;
  return `${signed}.${mac(keys.current, signed).toString('base64url')}`;
}

/** Verifies signature (in constant time) and purpose; a token for one purpose never passes for another. */
export function verifyToken(token: string, purpose: TokenPurpose, keys: SigningKeys): TokenVerification {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]+$/.test(part))) return { ok: false, reason: 'malformed' };
  const [keyId, body, signature] = parts as [string, string, string];
  const key = [keys.current, ...keys.previous].find((candidate) => candidate.id === keyId);
  if (!key) return { ok: false, reason: 'unknown-key' };
  const expected = mac(key, `${keyId}.${body}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  const claims = decodeClaims(body);
  if (!claims) return { ok: false, reason: 'malformed' }; // signed by us yet unreadable: a bug, not an attack
  if (claims.purpose !== purpose) return { ok: false, reason: 'wrong-purpose' };
  return { ok: true, claims, keyId };
}

/**
 * A click token is good only for the link it was made for: the redirect goes to `url` only if that very URL was
 * link `index` of that mail. Nothing else is an acceptable target, so the endpoint is no open redirect.
 */
export function verifyClickToken(token: string, url: string, keys: SigningKeys): TokenVerification {
  const verified = verifyToken(token, 'click', keys);
  if (!verified.ok) return verified;
  const link = verified.claims.link;
  if (!link) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(link.urlHash, 'base64url');
  const given = Buffer.from(urlHash(url), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'link-mismatch' };
  return verified;
}

/** 128 bits of SHA-256 of the URL: enough to tell the links of one mail apart and to make a substitute infeasible. */
export function urlHash(url: string): string {
  return createHash('sha256').update(url).digest().subarray(0, 16).toString('base64url');
}

function mac(key: SigningKey, signed: string): Buffer {
  return createHmac('sha256', key.secret).update(signed).digest();
}

/** Short field names: the token travels in every link of the mail. */
interface EncodedClaims {
  u: TokenPurpose;
  p: string;
  d: string;
  i?: number;
  h?: string;
}

function encodeClaims(claims: TokenClaims): EncodedClaims {
  return { u: claims.purpose, p: claims.profileId, d: claims.dispatchId, ...(claims.link ? { i: claims.link.index, h: claims.link.urlHash } : {}) };
}

function decodeClaims(body: string): TokenClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { u, p, d, i, h } = value as Partial<Record<keyof EncodedClaims, unknown>>;
  if (!PURPOSES.includes(u as TokenPurpose) || typeof p !== 'string' || typeof d !== 'string') return undefined;
  const claims: TokenClaims = { purpose: u as TokenPurpose, profileId: p, dispatchId: d };
  if (i === undefined && h === undefined) return claims;
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || typeof h !== 'string') return undefined;
  return { ...claims, link: { index: i, urlHash: h } };
}
