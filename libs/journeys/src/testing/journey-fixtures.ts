import { DispatchRequestRecord, JourneyOutcomeRecord } from '@kairos/contracts';
import { JourneyBody, SegmentBody } from '@kairos/definitions';
import { CatalogueSource, JourneyCatalogue, buildCatalogue } from '../journey-catalogue';
import { DEFAULT_GUARD_RAILS, GuardRailPolicy } from '../guard-rails';
import { SimulationEvent, SimulationResult, simulate } from '../simulate';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** A Monday, 10:00 UTC: outside the default quiet hours. */
export const T0 = Date.parse('2026-03-02T10:00:00Z');

let sequence = 0;

export const iso = (at: number): string => new Date(at).toISOString();

export function track(profileId: string, event: string, at: number, properties: Record<string, unknown> = {}, extra: Partial<SimulationEvent> = {}): SimulationEvent {
  return { type: 'track', profileId, event, timestamp: iso(at), messageId: `m-${++sequence}`, properties, ...extra };
}

export function identify(profileId: string, traits: Record<string, unknown>, at: number, extra: Partial<SimulationEvent> = {}): SimulationEvent {
  return { type: 'identify', profileId, traits, timestamp: iso(at), messageId: `m-${++sequence}`, ...extra };
}

/** Subscribed and confirmed (double opt-in): valid marketing consent from `at`. */
export function optIn(profileId: string, at: number): SimulationEvent[] {
  return [track(profileId, 'Subscribed', at), track(profileId, 'Subscription Confirmed', at + 1)];
}

export const SEGMENTS: SegmentBody[] = [
  { kind: 'segment', id: 'email-subscribers', rule: { consent: { channel: 'email', purpose: 'marketing' } } },
  { kind: 'segment', id: 'big-spenders', rule: { aggregate: { sum: 'revenue', of: 'Order Completed', where: [{ property: 'currency', equals: 'CHF' }] }, atLeast: 5000 } },
  { kind: 'segment', id: 'new-without-order', rule: { all: [{ trait: 'signedUpAt', moreThanAgo: '14d' }, { trait: 'signedUpAt', withinLast: '30d' }, { notPerformed: 'Order Completed' }] } },
];

export const TEMPLATES = [
  { id: 'confirm-subscription', purpose: 'transactional' as const },
  ...['welcome-1', 'welcome-2', 'welcome-3', 'cart-reminder', 'reactivation', 'birthday', 'vip-thank-you', 'win-back', 'promo'].map((id) => ({ id, purpose: 'marketing' as const })),
];

/** No quiet hours and no caps unless a test asks for them, so each test shows one rule. */
export const NO_GUARD_RAILS: GuardRailPolicy = { caps: [], defaultTimeZone: 'UTC' };

export function journey(body: Omit<JourneyBody, 'kind'>): JourneyBody {
  return { kind: 'journey', ...body };
}

export function catalogue(journeys: JourneyBody[], policy: GuardRailPolicy = NO_GUARD_RAILS, extra: Partial<CatalogueSource> = {}): JourneyCatalogue {
  return buildCatalogue({ journeys: journeys.map((body) => ({ version: 1, body })), segments: SEGMENTS.map((body) => ({ version: 1, body })), templates: TEMPLATES, policy, ...extra });
}

export { DEFAULT_GUARD_RAILS };

export function run(events: SimulationEvent[], journeys: JourneyBody[] | JourneyCatalogue, until?: number): SimulationResult {
  return simulate(events, Array.isArray(journeys) ? catalogue(journeys) : journeys, { until });
}

export function dispatches(result: SimulationResult): DispatchRequestRecord[] {
  return result.timeline.flatMap((entry) => (entry.effect?.kind === 'dispatch' ? [entry.effect.request] : []));
}

export function outcomes(result: SimulationResult, kind?: JourneyOutcomeRecord['kind']): JourneyOutcomeRecord[] {
  return result.timeline.flatMap((entry) => (entry.effect?.kind === 'outcome' && (kind === undefined || entry.effect.outcome.kind === kind) ? [entry.effect.outcome] : []));
}

/** [template, ISO time] of every e-mail, in order: what a reader of a scenario wants to see. */
export function sends(result: SimulationResult): Array<[string, string]> {
  return dispatches(result).flatMap((request) => (request.channel === 'email' ? [[request.templateId, request.requestedAt] as [string, string]] : []));
}
