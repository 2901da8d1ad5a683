import { createHash } from 'node:crypto';

/**
 * The check at the moment of sending: dispatch's own suppression list (its unsubscribes, bounces, complaints and the
 * erasures identity published) against one request. Pure: the service reads the rows, this decides.
 */
export type SuppressionReason = 'unsubscribed' | 'hard-bounce' | 'complaint' | 'soft-bounces' | 'erased';

export interface SuppressionEntry {
  /** `profile:<profileId>` or `address-sha256:<hex>` (see addressSubject). */
  subject: string;
  /** marketing: only marketing mail is stopped (an unsubscribe, a complaint); all: every mail (erasure, hard bounce). */
  scope: 'marketing' | 'all';
  reason: SuppressionReason;
  /** When it was recorded (epoch ms). */
  at: number;
}

export interface SendCheckInput {
  channel: 'email' | 'webhook';
  purpose: 'marketing' | 'transactional';
  profileId: string;
  /** The recipient address (e-mail only). */
  address?: string;
  /** The consent the request relied on, as triggers saw it. */
  consent?: { purpose: string; status: string; proof?: Record<string, unknown> };
}

export type SendCheck = { allowed: true } | { allowed: false; reason: string };

export const profileSubject = (profileId: string): string => `profile:${profileId}`;
/**
 * An address as a suppression subject: the SHA-256 of its trimmed lower-case form, never the address itself. A
 * suppression must outlive the erasure of the profile it came from (a bounced or complaining address stays blocked
 * for whoever enters it next), and the list then holds no address in the clear; the service also drops bounce
 * diagnostics and soft-bounce counts of an erased profile's addresses (ApplyErasuresUseCase).
 */
export const addressSubject = (address: string): string => `address-sha256:${createHash('sha256').update(address.trim().toLowerCase()).digest('hex')}`;

/** The suppression subjects one request is checked against. */
export function suppressionSubjects(input: Pick<SendCheckInput, 'profileId' | 'address'>): string[] {
  return [profileSubject(input.profileId), ...(input.address ? [addressSubject(input.address)] : [])];
}

/**
 * Allowed, or the reason it is not:
 * - an erased profile gets nothing, on any channel;
 * - an address suppressed for all mail (hard bounce, repeated soft bounces) gets no mail;
 * - marketing mail needs granted or confirmed consent evidence, and no marketing suppression of the profile or
 *   address — unless the evidence is newer than an unsubscribe (the customer subscribed again since).
 */
export function checkSend(input: SendCheckInput, entries: readonly SuppressionEntry[]): SendCheck {
  const profile = profileSubject(input.profileId);
  if (entries.some((entry) => entry.subject === profile && entry.reason === 'erased')) return { allowed: false, reason: 'erased' };
  if (input.channel === 'webhook') return { allowed: true };
  const address = input.address === undefined ? undefined : addressSubject(input.address);
  const relevant = entries.filter((entry) => entry.subject === profile || entry.subject === address);
  const all = relevant.find((entry) => entry.scope === 'all');
  if (all) return { allowed: false, reason: all.reason };
  if (input.purpose === 'transactional') return { allowed: true };
  const consent = input.consent;
  if (!consent || consent.purpose !== 'marketing' || (consent.status !== 'granted' && consent.status !== 'confirmed')) {
    return { allowed: false, reason: 'no-consent' };
  }
  const grantedAt = proofTime(consent.proof);
  const blocking = relevant.find((entry) => entry.scope === 'marketing' && !(entry.reason === 'unsubscribed' && grantedAt !== undefined && grantedAt > entry.at));
  return blocking ? { allowed: false, reason: blocking.reason } : { allowed: true };
}

/** The time of a consent proof (`at` or `time`: epoch ms or ISO 8601), if it has one. */
export function proofTime(proof: Record<string, unknown> | undefined): number | undefined {
  const value = proof?.['at'] ?? proof?.['time'];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}
