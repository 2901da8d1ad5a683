import { DEFAULT_LIMITS } from './intake-limits';
import { inspectEvent, inspectEventBytes } from './inspect-event';

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const track = { type: 'track', event: 'Order Completed', userId: 'u1', properties: { total: 42 } };

describe('inspectEventBytes', () => {
  it('accepts a valid track event', () => {
    expect(inspectEventBytes(bytes(track), DEFAULT_LIMITS)).toEqual({ ok: true, value: track });
  });

  it.each([
    ['malformed JSON', bytes('{"type": "track",'), 'invalid_json'],
    ['non-JSON bytes', bytes('hello kafka'), 'invalid_json'],
    ['an empty record', null, 'invalid_json'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'invalid_encoding'],
    ['32 KB + 1 byte', Buffer.alloc(32 * 1024 + 1, 0x20), 'size_violation'],
    ['a huge string', bytes({ ...track, properties: { note: 'x'.repeat(40_000) } }), 'size_violation'],
    ['objects nested 40 deep', bytes(`{"type":"track","event":"e","userId":"u","properties":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`), 'depth_violation'],
  ])('rejects %s', (_what, input, reason) => {
    expect(inspectEventBytes(input, DEFAULT_LIMITS)).toMatchObject({ ok: false, reason });
  });

  it('does not count brackets inside strings as nesting', () => {
    expect(inspectEventBytes(bytes({ ...track, properties: { text: '[[[[{{{{'.repeat(20) } }), DEFAULT_LIMITS).ok).toBe(true);
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
    const outcome = inspectEvent(input, DEFAULT_LIMITS);
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
      expect(inspectEvent(event, DEFAULT_LIMITS)).toEqual({ ok: true, value: event });
    }
  });
});
