import { ConsentKey, ConsentModel } from './profile-model';
import { ConsentProof, ConsentRecord, later } from './profile-state';

export type EffectiveConsent = { status: 'granted' | 'pending' | 'withdrawn'; proof: ConsentProof } | { status: 'unknown' };

/**
 * What a consent record means now. The most recent explicit choice (opt-in, confirmation, withdrawal) wins; at the
 * same instant a withdrawal wins. An implicit signal (categoryPreferences) decides only when no explicit choice
 * exists, except that it can withdraw a grant older than itself — it can never grant over a withdrawal.
 * With double opt-in, a grant is pending until a confirmation later than the last withdrawal.
 */
export function consentStatus(record: ConsentRecord | undefined, requiresConfirmation: boolean): EffectiveConsent {
  if (record === undefined) return { status: 'unknown' };
  const optIn = later(record.grant, record.confirmation);
  const withdrawal = record.withdrawal;
  if (withdrawal !== undefined && (optIn === undefined || withdrawal.at >= optIn.at)) return { status: 'withdrawn', proof: withdrawal };
  const implicit = record.implicit;
  if (optIn !== undefined) {
    if (implicit !== undefined && !implicit.granted && implicit.at > optIn.at) return { status: 'withdrawn', proof: implicit };
    if (!requiresConfirmation) return { status: 'granted', proof: optIn };
    const confirmation = record.confirmation;
    const confirmed = confirmation !== undefined && (withdrawal === undefined || confirmation.at > withdrawal.at);
    return confirmed ? { status: 'granted', proof: confirmation } : { status: 'pending', proof: optIn };
  }
  if (implicit === undefined) return { status: 'unknown' };
  if (!implicit.granted) return { status: 'withdrawn', proof: implicit };
  return { status: requiresConfirmation ? 'pending' : 'granted', proof: implicit };
}

export function mergeConsentRecords(a: ConsentRecord | undefined, b: ConsentRecord | undefined): ConsentRecord {
  return compact({
    grant: later(a?.grant, b?.grant),
    withdrawal: later(a?.withdrawal, b?.withdrawal),
    confirmation: later(a?.confirmation, b?.confirmation),
    implicit: later(a?.implicit, b?.implicit),
  });
}

export interface ConsentSignal {
  key: ConsentKey;
  slot: 'grant' | 'withdrawal' | 'confirmation' | 'implicit';
  proof: ConsentProof & { granted?: boolean };
}

interface ConsentInput {
  type: string;
  event?: string;
  messageId: string;
  properties?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

/** The consent signals one event carries: an explicit consent event, and Segment's categoryPreferences. */
export function consentSignals(event: ConsentInput, at: number, model: ConsentModel): ConsentSignal[] {
  const context = event.context ?? {};
  const page = record(context.page);
  const properties = event.properties ?? {};
  const base: ConsentProof = compact({
    at,
    source: 'context' as const,
    messageId: event.messageId,
    ip: text(context.ip),
    userAgent: text(context.userAgent),
    page: text(page.url) ?? text(properties.url),
    wording: text(properties.wording) ?? text(properties.consentText),
    formVersion: text(properties.formVersion),
  });
  const signals: ConsentSignal[] = [];
  const explicit = event.type === 'track' && event.event !== undefined ? model.events[event.event] : undefined;
  // A soft bounce says nothing about the address; only a hard one (or an unspecified one) withdraws.
  // Another channel's choice (an SMS or push opt-in) is not e-mail's: consent is kept per channel, and Kairos keeps
  // e-mail's only (before, it fell back to the event's e-mail purposes). A channel it cannot place ("Email", "mail",
  // a typo) grants nothing, but a withdrawal naming it still withdraws: of the two mistakes, mailing someone who
  // unsubscribed is the one that must not happen.
  const channel = channelOf(properties.channel);
  const ignored = channel !== 'email' && channel !== undefined && (explicit?.signal !== 'withdrawal' || OTHER_CHANNELS.has(channel));
  if (explicit !== undefined && !ignored && !(event.event === 'Email Bounced' && properties.bounceType === 'soft')) {
    const named = purposeKey(channel, properties.purpose);
    for (const key of named === undefined ? explicit.purposes : [named]) {
      signals.push({ key, slot: explicit.signal, proof: { ...base, source: 'event', event: event.event } });
    }
  }
  const preferences = record(record(context.consent).categoryPreferences);
  for (const [category, granted] of Object.entries(preferences)) {
    if (typeof granted !== 'boolean') continue;
    for (const key of model.categories[category.toLowerCase()] ?? []) signals.push({ key, slot: 'implicit', proof: { ...base, granted } });
  }
  return signals;
}

export function applyConsentSignal(record: ConsentRecord | undefined, signal: ConsentSignal): ConsentRecord {
  if (signal.slot === 'implicit') return { ...record, implicit: later(record?.implicit, { ...signal.proof, granted: signal.proof.granted === true }) };
  return { ...record, [signal.slot]: later(record?.[signal.slot], signal.proof) };
}

/** Channels other than e-mail that senders name: their choices are theirs. */
const OTHER_CHANNELS = new Set(['sms', 'push', 'whatsapp', 'phone', 'post', 'in-app', 'inapp', 'web-push']);

/** The channel an event names, lower-cased; e-mail under its usual spellings; undefined when it names none. */
function channelOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const channel = value.trim().toLowerCase();
  return channel === 'e-mail' || channel === 'mail' ? 'email' : channel;
}

function purposeKey(channel: string | undefined, purpose: unknown): ConsentKey | undefined {
  if (purpose !== 'marketing' && purpose !== 'transactional') return undefined;
  if (channel !== undefined && channel !== 'email') return undefined;
  return `email.${purpose}`;
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
