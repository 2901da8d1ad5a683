import { ConsentEvidence } from '@kairos/contracts';
import { parseDuration } from '@kairos/definitions';
import { ConsentKey, ProfileModel, ProfileState, consentStatus } from '@kairos/segmentation';
import { parseTimeOfDay, quietUntil } from './local-time';

export type Purpose = 'marketing' | 'transactional';
export type Channel = 'email' | 'webhook';

/** A frequency cap across all journeys, for one channel and purpose: at most `max` in `per`, and none within `minGap` of the last. */
export interface FrequencyCap {
  channel: Channel;
  purpose: Purpose;
  max?: number;
  per?: number;
  minGap?: number;
}

export interface QuietHours {
  start: { hour: number; minute: number };
  end: { hour: number; minute: number };
  purposes: Purpose[];
}

/** The guard rails every send passes, the same for all journeys (the service configures them). */
export interface GuardRailPolicy {
  caps: FrequencyCap[];
  quietHours?: QuietHours;
  /** For profiles without a (known) time zone. */
  defaultTimeZone: string;
}

const ms = (text: string): number => parseDuration(text) ?? 0;

/** Klaviyo-like defaults: 3 marketing e-mails in 7 days, none within 16 hours of the last; no marketing 21:00-08:00. */
export const DEFAULT_GUARD_RAILS: GuardRailPolicy = {
  caps: [{ channel: 'email', purpose: 'marketing', max: 3, per: ms('7d'), minGap: ms('16h') }],
  quietHours: { start: parseTimeOfDay('21:00'), end: parseTimeOfDay('08:00'), purposes: ['marketing'] },
  defaultTimeZone: 'UTC',
};

/** One send a profile received (kept across journeys for the caps). */
export interface SentRecord {
  at: number;
  channel: Channel;
  purpose: Purpose;
  dispatchId: string;
}

export type ConsentDecision = { allowed: true; evidence: ConsentEvidence } | { allowed: false; status: string; proof?: Record<string, unknown> };

/**
 * Marketing needs a valid opt-in (confirmed where the model asks for double opt-in); transactional mail goes out
 * unless the profile withdrew it (a hard bounce, for example). The proof the decision relied on travels with it.
 */
export function decideConsent(profile: ProfileState | undefined, purpose: Purpose, model: ProfileModel): ConsentDecision {
  const key: ConsentKey = `email.${purpose}`;
  const requiresConfirmation = model.consent.doubleOptIn.includes(key);
  const effective = consentStatus(profile?.consent[key], requiresConfirmation);
  const proof = effective.status === 'unknown' ? undefined : ({ ...effective.proof, at: new Date(effective.proof.at).toISOString() } as Record<string, unknown>);
  if (purpose === 'marketing') {
    if (effective.status !== 'granted') return { allowed: false, status: effective.status, proof };
    return { allowed: true, evidence: { channel: 'email', purpose, status: requiresConfirmation ? 'confirmed' : 'granted', proof } };
  }
  if (effective.status === 'withdrawn') return { allowed: false, status: effective.status, proof };
  return { allowed: true, evidence: { channel: 'email', purpose, status: effective.status === 'granted' ? 'granted' : 'not-required', proof } };
}

export interface CapVerdict {
  rule: string;
  /** The earliest moment the send would pass this cap. */
  allowedAt: number;
}

export function describeCap(cap: FrequencyCap): string {
  const parts: string[] = [];
  if (cap.max !== undefined && cap.per !== undefined) parts.push(`at most ${cap.max} per ${humanDuration(cap.per)}`);
  if (cap.minGap !== undefined) parts.push(`none within ${humanDuration(cap.minGap)} of the last`);
  return `${cap.channel} ${cap.purpose}: ${parts.join(', ')}`;
}

function humanDuration(duration: number): string {
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]];
  for (const [unit, size] of units) if (duration % size === 0) return `${duration / size}${unit}`;
  return `${duration}ms`;
}

/** Whether a send at `at` breaks a cap, given what the profile was sent (by any journey). */
export function checkCaps(history: readonly SentRecord[], channel: Channel, purpose: Purpose, at: number, policy: GuardRailPolicy): CapVerdict | undefined {
  let verdict: CapVerdict | undefined;
  for (const cap of policy.caps) {
    if (cap.channel !== channel || cap.purpose !== purpose) continue;
    const sent = history.filter((entry) => entry.channel === channel && entry.purpose === purpose && entry.at <= at).map((entry) => entry.at).sort((a, b) => a - b);
    let allowedAt = at;
    if (cap.minGap !== undefined && sent.length > 0) allowedAt = Math.max(allowedAt, sent[sent.length - 1] + cap.minGap);
    if (cap.max !== undefined && cap.per !== undefined) {
      const per = cap.per;
      const inWindow = sent.filter((time) => time > at - per);
      // The oldest sends must leave the window until fewer than max remain.
      if (inWindow.length >= cap.max) allowedAt = Math.max(allowedAt, inWindow[inWindow.length - cap.max] + per);
    }
    if (allowedAt > at && (verdict === undefined || allowedAt > verdict.allowedAt)) verdict = { rule: describeCap(cap), allowedAt };
  }
  return verdict;
}

/** Drops sends no cap can count any more. */
export function pruneHistory(history: readonly SentRecord[], now: number, policy: GuardRailPolicy): SentRecord[] {
  const longest = Math.max(0, ...policy.caps.map((cap) => Math.max(cap.per ?? 0, cap.minGap ?? 0)));
  return history.filter((entry) => entry.at > now - longest);
}

/** The end of the quiet hours `at` falls into, for this purpose, in the profile's time zone; undefined if none. */
export function quietHoursUntil(at: number, purpose: Purpose, timeZone: string, policy: GuardRailPolicy): number | undefined {
  const quiet = policy.quietHours;
  if (quiet === undefined || !quiet.purposes.includes(purpose)) return undefined;
  return quietUntil(at, quiet, timeZone);
}
