import { engagementEvent } from './engagement-event';

describe('engagement events', () => {
  it('is a Segment track event with a deterministic messageId, addressed to the profile by its id', () => {
    const at = new Date('2026-05-01T10:00:00Z');
    const profileId = '0b7c2f7e-3c1d-4a5e-9f00-1234567890ab';
    expect(engagementEvent({ kind: 'clicked', profileId, dispatchId: 'd1', at, discriminator: '2', properties: { url: 'https://x.ch' }, ip: '203.0.113.9' })).toEqual({
      type: 'track',
      event: 'Email Clicked',
      messageId: 'kairos-dispatch:d1:clicked:2',
      timestamp: '2026-05-01T10:00:00.000Z',
      properties: { channel: 'email', dispatchId: 'd1', profileId, url: 'https://x.ch' },
      context: { kairos: { profileId }, ip: '203.0.113.9', library: { name: 'kairos-dispatch', version: '1' } },
    });
    expect(engagementEvent({ kind: 'unsubscribed', profileId, dispatchId: 'd1', at })).toMatchObject({ event: 'Email Unsubscribed', messageId: 'kairos-dispatch:d1:unsubscribed' });
  });
});
