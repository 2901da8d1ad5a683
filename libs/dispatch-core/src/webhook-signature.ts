import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a webhook receiver checks: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Kairos-Signature';
/** The idempotency key a receiver de-duplicates on: the dispatch id, the same on every attempt. */
export const WEBHOOK_DISPATCH_HEADER = 'X-Kairos-Dispatch-Id';

/**
 * Signs a webhook body the way Stripe and GitHub do: the timestamp is signed with the body, so a captured request
 * cannot be replayed later with a fresh timestamp, and the receiver can refuse old ones.
 */
export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** What a receiver does (and the tests): the signature matches and is not older than `toleranceSeconds`. */
export function verifyWebhook(secret: string, body: string, header: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const timestamp = Number(parts['t']);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds || typeof parts['v1'] !== 'string') return false;
  const expected = Buffer.from(signWebhook(secret, body, timestamp).split('v1=')[1], 'hex');
  const given = Buffer.from(parts['v1'], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
