import { AcceptedEvent } from '@kairos/contracts';
import { aliasTargets, extractIdentifiers, normaliseEmail, normalisePhone } from './identifiers';

const accepted = (fields: Partial<AcceptedEvent>): AcceptedEvent => ({
  type: 'identify',
  messageId: 'm1',
  sourceId: 'web',
  receivedAt: '2026-01-01T00:00:00.000Z',
  timestamp: '2026-01-01T00:00:00.000Z',
  identifiers: {},
  ...fields,
});

describe('extractIdentifiers', () => {
  it('finds every identifier type, normalised, each once', () => {
    const event = accepted({
      identifiers: { userId: 'u1', anonymousId: 'a1', email: 'anna@example.ch' },
      traits: { email: 'Anna@Example.CH', phone: '+41 79 123 45 67' },
      context: {
        traits: { email: 'other@example.ch' },
        device: { id: 'dev-1', advertisingId: 'ad-1', adTrackingEnabled: true },
        externalIds: [
          { id: 'ga-123', type: 'GA_Client_Id', collection: 'users', encoding: 'none' },
          { id: 'sneaky', type: 'user_id' },
          { id: ' ', type: 'crm_id' },
        ],
      },
    });
    expect(extractIdentifiers(event)).toEqual([
      { type: 'user_id', value: 'u1' },
      { type: 'anonymous_id', value: 'a1' },
      { type: 'email', value: 'anna@example.ch' },
      { type: 'phone', value: '+41791234567' },
      { type: 'device_id', value: 'dev-1' },
      { type: 'advertising_id', value: 'ad-1' },
      { type: 'ga_client_id', value: 'ga-123' },
    ]);
  });

  it('takes the advertising id only when ad tracking is enabled, and the e-mail from context.traits when traits have none', () => {
    const event = accepted({ identifiers: { anonymousId: 'a1' }, context: { traits: { email: ' Ben@Shop.CH ' }, device: { advertisingId: 'ad-1', adTrackingEnabled: false } } });
    expect(extractIdentifiers(event)).toEqual([
      { type: 'anonymous_id', value: 'a1' },
      { type: 'email', value: 'ben@shop.ch' },
    ]);
  });

  it('reads an alias previousId as either an anonymousId or a userId', () => {
    expect(aliasTargets(accepted({ type: 'alias', identifiers: { userId: 'u1', previousId: 'p1' } }))).toEqual([
      { type: 'anonymous_id', value: 'p1' },
      { type: 'user_id', value: 'p1' },
    ]);
    expect(aliasTargets(accepted({ type: 'track', identifiers: { userId: 'u1', previousId: 'p1' } }))).toEqual([]);
  });
});

describe('normalisation', () => {
  it.each([
    ['+41 79 123 45 67', '+41791234567'],
    ['0041 (79) 123-45-67', '+41791234567'],
    ['+1.415.555.0100', '+14155550100'],
    ['079 123 45 67', undefined],
    ['+0 79 123', undefined],
    ['call me', undefined],
  ])('phone %p -> %p', (input, expected) => {
    expect(normalisePhone(input)).toBe(expected);
  });

  it.each([
    ['  Anna@Example.CH ', 'anna@example.ch'],
    ['not an address', undefined],
    [42, undefined],
  ])('e-mail %p -> %p', (input, expected) => {
    expect(normaliseEmail(input)).toBe(expected);
  });
});
