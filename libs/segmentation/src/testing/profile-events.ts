import { ProfileEvent } from '../apply-event';

/** Builders for the events the specs feed in: a Segment event reduced to what segmentation reads. */
let sequence = 0;

export const DAY = 86_400_000;
export const T0 = Date.parse('2026-01-01T00:00:00Z');

export function at(days: number): string {
  return new Date(T0 + days * DAY).toISOString();
}

export function track(event: string, day: number, properties: Record<string, unknown> = {}, extra: Partial<ProfileEvent> = {}): ProfileEvent {
  return { type: 'track', event, timestamp: at(day), messageId: `m-${++sequence}`, properties, ...extra };
}

export function identify(traits: Record<string, unknown>, day: number, extra: Partial<ProfileEvent> = {}): ProfileEvent {
  return { type: 'identify', traits, timestamp: at(day), messageId: `m-${++sequence}`, ...extra };
}

export function page(day: number): ProfileEvent {
  return { type: 'page', timestamp: at(day), messageId: `m-${++sequence}` };
}
