import { DEFAULT_LIMITS } from './intake-limits';
import { inspectEvent } from './inspect-event';
import { inspectRawRecord } from './raw-record';

/** The judgement of a single-event raw record: the whole record's, or its one event's. */
function inspectEventBytes(bytes: Uint8Array | null, limits: typeof DEFAULT_LIMITS) {
  const record = inspectRawRecord(bytes, limits, 'kafka');
  return record.ok ? record.value.entries[0].outcome : record;
}

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
/** A valid track event of exactly `size` bytes. */
function exactly(size: number): Buffer {
  const shell = JSON.stringify({ type: 'track', event: 'Padded', userId: 'u1', properties: { pad: '' } });
  return Buffer.from(shell.replace('"pad":""', `"pad":"${'x'.repeat(size - shell.length)}"`));
}

const track = { type: 'track', event: 'Order Completed', userId: 'u1', properties: { total: 42 } };

describe('inspectRawRecord with a single event', () => {
  it('accepts a valid track event', () => {
    expect(inspectEventBytes(bytes(track), DEFAULT_LIMITS)).toEqual({ ok: true, value: track });
  });

  it.each([
    ['malformed JSON', bytes('{"type": "track",'), 'invalid_json'],
    ['non-JSON bytes', bytes('hello kafka'), 'invalid_json'],
    ['an empty record', null, 'invalid_json'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'invalid_encoding'],
    ['an event of 32 KB + 1 byte', exactly(32 * 1024 + 1), 'size_violation'],
    ['a huge string', bytes({ ...track, properties: { note: 'x'.repeat(40_000) } }), 'size_violation'],
    ['objects nested 40 deep', bytes(`{"type":"track","event":"e","userId":"u","properties":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`), 'depth_violation'],
  ])('rejects %s', (_what, input, reason) => {
    expect(inspectEventBytes(input, DEFAULT_LIMITS)).toMatchObject({ ok: false, reason });
  });

  it('accepts an event of exactly 32 KB', () => {
    expect(inspectEventBytes(exactly(32 * 1024), DEFAULT_LIMITS).ok).toBe(true);
  });

  it('does not count brackets inside strings as nesting', () => {
    expect(inspectEventBytes(bytes({ ...track, properties: { text: '[[[[{{{{'.repeat(20) } }), DEFAULT_LIMITS).ok).toBe(true);
  });

  it('refuses nesting far beyond the limit without overflowing the stack', () => {
    const deep = `{"type":"track","event":"e","userId":"u","properties":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(inspectEventBytes(Buffer.from(deep), { ...DEFAULT_LIMITS, maxEventBytes: 1_000_000, maxBatchBytes: 1_000_000 })).toMatchObject({ ok: false, reason: 'depth_violation' });
  });
});

describe('inspectRawRecord with a batch envelope', () => {
  it('judges each event on its own, applying the batch context and sentAt', () => {
    const record = inspectRawRecord(
      bytes({ batch: [track, { type: 'track', userId: 'u2' }, { type: 'page', anonymousId: 'a', context: { locale: 'de-CH' } }], sentAt: '2026-11-22T10:00:00Z', context: { library: { name: 'sdk' } } }),
      DEFAULT_LIMITS,
      'kafka',
    );
    expect(record.ok).toBe(true);
    if (!record.ok) return;
    expect(record.value.batchSentAt).toBe('2026-11-22T10:00:00Z');
    expect(record.value.entries.map((entry) => [entry.index, entry.outcome.ok])).toEqual([[0, true], [1, false], [2, true]]);
    expect(record.value.entries[1].outcome).toMatchObject({ reason: 'schema_violation' });
    expect(record.value.entries[2].outcome).toMatchObject({ ok: true, value: { context: { library: { name: 'sdk' }, locale: 'de-CH' } } });
    expect(JSON.parse(record.value.entries[1].payload)).toEqual({ type: 'track', userId: 'u2', context: { library: { name: 'sdk' } } });
  });

  it('refuses the whole record when it has too many events or is too large', () => {
    expect(inspectRawRecord(bytes({ batch: Array.from({ length: 2_501 }, () => track) }), DEFAULT_LIMITS, 'kafka')).toMatchObject({ ok: false, reason: 'size_violation' });
    expect(inspectRawRecord(Buffer.alloc(500 * 1024 + 1, 0x20), DEFAULT_LIMITS, 'kafka')).toMatchObject({ ok: false, reason: 'size_violation' });
  });

  it('refuses one oversized event of a batch and keeps the others', () => {
    const record = inspectRawRecord(bytes({ batch: [{ ...track, properties: { blob: 'x'.repeat(33_000) } }, track] }), DEFAULT_LIMITS, 'kafka');
    expect(record.ok && record.value.entries.map((entry) => entry.outcome.ok)).toEqual([false, true]);
  });
});

describe('inspectEvent', () => {
  it.each([
    ['an array', [track], 'schema_violation', 'must be a JSON object'],
    ['an unknown type', { ...track, type: 'purchase' }, 'schema_violation', '/type must be equal to one of the allowed values'],
    ['a track without event', { type: 'track', userId: 'u1' }, 'schema_violation', "must have required property 'event'"],
    ['a group without groupId', { type: 'group', userId: 'u1' }, 'schema_violation', "must have required property 'groupId'"],
    ['an alias without previousId', { type: 'alias', userId: 'u1' }, 'schema_violation', "must have required property 'previousId'"],
    ['properties of the wrong type', { ...track, properties: 'cheap' }, 'schema_violation', '/properties must be object'],
    ['a messageId over 100 characters', { ...track, messageId: 'm'.repeat(101) }, 'schema_violation', '/messageId must NOT have more than 100 characters'],
    ['a timestamp that is not a date', { ...track, timestamp: 'yesterday' }, 'schema_violation', '/timestamp must match format "date-time"'],
    ['no userId and no anonymousId', { type: 'track', event: 'e' }, 'missing_identity', 'userId or anonymousId is required'],
    ['a blank userId', { type: 'track', event: 'e', userId: '   ' }, 'missing_identity', 'userId or anonymousId is required'],
    ['501 traits', { type: 'identify', userId: 'u1', traits: Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`t${i}`, i])) }, 'size_violation', 'traits has 501 keys; at most 500'],
  ])('rejects %s', (_what, input, reason, detail) => {
    const outcome = inspectEvent(input, DEFAULT_LIMITS, 'kafka');
    expect(outcome).toMatchObject({ ok: false, reason });
    expect(outcome.ok || outcome.detail).toContain(detail);
  });

  it('accepts every event type of the spec with its required fields', () => {
    for (const event of [
      track,
      { type: 'identify', anonymousId: 'a1', traits: { email: 'A@B.CH' } },
      { type: 'page', userId: 'u1', name: 'Home' },
      { type: 'screen', userId: 'u1', name: 'Cart' },
      { type: 'group', userId: 'u1', groupId: 'g1' },
      { type: 'alias', userId: 'u1', previousId: 'a1' },
      { type: 'track', event: 'Numeric id', userId: 12345 },
    ]) {
      expect(inspectEvent(event, DEFAULT_LIMITS, 'kafka')).toEqual({ ok: true, value: event });
    }
  });

  describe('an event addressed to a profile by its Kairos id (context.kairos)', () => {
    const addressed = { type: 'track', event: 'Email Opened', messageId: 'kairos-dispatch:d1:opened', context: { kairos: { profileId: '0b7c2f7e-3c1d-4a5e-9f00-1234567890ab' } } };

    it('is accepted from the internal topic without userId or anonymousId', () => {
      expect(inspectEvent(addressed, DEFAULT_LIMITS, 'internal')).toEqual({ ok: true, value: addressed });
    });

    it.each([
      ['without a profile id', { ...track, messageId: 'm-1' }],
      ['without a messageId', { ...addressed, messageId: undefined }],
    ])('is the only kind of event the internal topic takes: refused %s', (_what, event) => {
      expect(inspectEvent(event, DEFAULT_LIMITS, 'internal')).toEqual({ ok: false, reason: 'schema_violation', detail: 'an event on kairos.events.internal.v1 needs /context/kairos/profileId and a messageId' });
    });

    it.each(['http', 'kafka'] as const)('is refused from %s (the collector, or the raw topic any producer may write)', (channel) => {
      expect(inspectEvent({ ...addressed, userId: 'u1' }, DEFAULT_LIMITS, channel)).toEqual({
        ok: false,
        reason: 'schema_violation',
        detail: "/context/kairos addresses a Kairos profile by its id: only Kairos' own services send it, on kairos.events.internal.v1",
      });
    });

    it.each([
      ['a profile id that is not a UUID', { profileId: 'u1' }, '/context/kairos/profileId must match pattern'],
      ['a UUID as a URN', { profileId: 'urn:uuid:0b7c2f7e-3c1d-4a5e-9f00-1234567890ab' }, '/context/kairos/profileId must match pattern'],
      ['no profile id', {}, "/context/kairos must have required property 'profileId'"],
      ['another field', { profileId: addressed.context.kairos.profileId, userId: 'u1' }, '/context/kairos must NOT have additional properties'],
    ])('rejects %s', (_what, kairos, detail) => {
      const outcome = inspectEvent({ ...addressed, context: { kairos } }, DEFAULT_LIMITS, 'internal');
      expect(outcome).toMatchObject({ ok: false, reason: 'schema_violation' });
      expect(outcome.ok || outcome.detail).toContain(detail);
    });
  });
});
