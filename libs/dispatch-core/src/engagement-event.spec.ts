import { engagementEvent } from './engagement-event';

describe('engagement events', () => {
  it('is a Segment track event with a deterministic messageId, the userId when known and the address as a trait', () => {
    const at = new Date('2026-05-01T10:00:00Z');
    expect(engagementEvent({ kind: 'clicked', profileId: 'p1', dispatchId: 'd1', userId: 'u1', email: 'a@b.ch', at, discriminator: '2', properties: { url: 'https://x.ch' } })).toEqual({
      type: 'track',
      event: 'Email Clicked',
      messageId: 'kairos-dispatch:d1:clicked:2',
      userId: 'u1',
      timestamp: '2026-05-01T10:00:00.000Z',
      properties: { channel: 'email', dispatchId: 'd1', profileId: 'p1', url: 'https://x.ch' },
      context: { traits: { email: 'a@b.ch' }, library: { name: 'kairos-dispatch', version: '1' } },
    });
    expect(engagementEvent({ kind: 'unsubscribed', profileId: 'p1', dispatchId: 'd1', at })).toMatchObject({ event: 'Email Unsubscribed', anonymousId: 'kairos-profile:p1' });
  });
});
