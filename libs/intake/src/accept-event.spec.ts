import { SegmentEvent } from '@kairos/contracts';
import { acceptedKey, acceptEvent, eventTime } from './accept-event';
import { DEFAULT_LIMITS } from './intake-limits';

const receivedAt = new Date('2026-11-22T12:00:00.000Z');
const arrival = { sourceId: 'web', receivedAt, messageId: 'generated-1' };

describe('eventTime (clock-skew correction)', () => {
  it('prefers an explicit timestamp', () => {
    expect(eventTime({ type: 'track', timestamp: '2026-11-22T11:00:00Z', originalTimestamp: '2026-11-22T10:00:00Z', sentAt: '2026-11-22T10:01:00Z' }, arrival).toISOString()).toBe('2026-11-22T11:00:00.000Z');
  });

  it('shifts originalTimestamp by the device clock error, receivedAt - sentAt', () => {
    // The device clock is 2 hours behind: it sent at 10:00 (its time) what the server received at 12:00.
    const event: SegmentEvent = { type: 'track', originalTimestamp: '2026-11-22T09:55:00Z', sentAt: '2026-11-22T10:00:00Z' };
    expect(eventTime(event, arrival).toISOString()).toBe('2026-11-22T11:55:00.000Z');
  });

  it('uses the batch sentAt when the event has none', () => {
    expect(eventTime({ type: 'track', originalTimestamp: '2026-11-22T09:55:00Z' }, { receivedAt, batchSentAt: '2026-11-22T10:00:00Z' }).toISOString()).toBe('2026-11-22T11:55:00.000Z');
  });

  it('falls back to receivedAt', () => {
    expect(eventTime({ type: 'track' }, arrival)).toEqual(receivedAt);
  });
});

describe('acceptEvent', () => {
  it('normalises ids and e-mail identifiers, keeps traits as sent and carries consent untouched', () => {
    const consent = { categoryPreferences: { marketing: true, analytics: false } };
    const outcome = acceptEvent(
      { type: 'identify', userId: 42, anonymousId: '  a-1 ', traits: { email: '  Anna@Example.CH ' }, context: { consent } },
      arrival,
      DEFAULT_LIMITS,
    );
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.value).toMatchObject({
      messageId: 'generated-1',
      sourceId: 'web',
      userId: '42',
      anonymousId: 'a-1',
      receivedAt: '2026-11-22T12:00:00.000Z',
      timestamp: '2026-11-22T12:00:00.000Z',
      identifiers: { userId: '42', anonymousId: 'a-1', email: 'anna@example.ch' },
      traits: { email: '  Anna@Example.CH ' },
      context: { consent },
    });
    expect(acceptedKey(outcome.value)).toBe('42');
  });

  it('keeps the event messageId when it has one, and adds the ip only when given', () => {
    const outcome = acceptEvent({ type: 'track', event: 'e', anonymousId: 'a', messageId: 'm-7', context: { userAgent: 'ua' } }, { ...arrival, ip: '203.0.113.9' }, DEFAULT_LIMITS);
    expect(outcome).toMatchObject({ ok: true, value: { messageId: 'm-7', context: { userAgent: 'ua', ip: '203.0.113.9' } } });
    expect(acceptedKey((outcome as { value: Parameters<typeof acceptedKey>[0] }).value)).toBe('a');
  });

  it('refuses timestamps far in the future and before 2000', () => {
    expect(acceptEvent({ type: 'track', event: 'e', userId: 'u', timestamp: '2026-11-24T12:00:00Z' }, arrival, DEFAULT_LIMITS)).toMatchObject({ ok: false, reason: 'timestamp_out_of_range' });
    expect(acceptEvent({ type: 'track', event: 'e', userId: 'u', timestamp: '1970-01-01T00:00:00Z' }, arrival, DEFAULT_LIMITS)).toMatchObject({ ok: false, reason: 'timestamp_out_of_range' });
    expect(acceptEvent({ type: 'track', event: 'e', userId: 'u', timestamp: '2026-11-23T06:00:00Z' }, arrival, DEFAULT_LIMITS).ok).toBe(true);
  });

  it('carries the profile an event of Kairos\' own is addressed to as an identifier, and keys the record by it', () => {
    const outcome = acceptEvent({ type: 'identify', traits: { tier: 'gold' }, context: { kairos: { profileId: '0B7C2F7E-3C1D-4A5E-9F00-1234567890AB' } } }, arrival, DEFAULT_LIMITS);
    expect(outcome).toMatchObject({ ok: true, value: { identifiers: { profileId: '0b7c2f7e-3c1d-4a5e-9f00-1234567890ab' }, traits: { tier: 'gold' } } });
    expect(acceptedKey((outcome as { value: Parameters<typeof acceptedKey>[0] }).value)).toBe('0b7c2f7e-3c1d-4a5e-9f00-1234567890ab');
  });

  it('is deterministic: the same event and arrival give the same envelope', () => {
    const event: SegmentEvent = { type: 'page', anonymousId: 'a', name: 'Home' };
    expect(acceptEvent(event, arrival, DEFAULT_LIMITS)).toEqual(acceptEvent(event, arrival, DEFAULT_LIMITS));
  });
});
