import { addressSubject, checkSend, profileSubject, SendCheckInput, SuppressionEntry } from './send-check';

const marketing: SendCheckInput = {
  channel: 'email',
  purpose: 'marketing',
  profileId: 'p1',
  address: 'Anna@Example.com',
  consent: { purpose: 'marketing', status: 'granted', proof: { at: Date.parse('2026-01-01T00:00:00Z') } },
};
const entry = (subject: string, scope: SuppressionEntry['scope'], reason: SuppressionEntry['reason'], at = Date.parse('2026-02-01T00:00:00Z')): SuppressionEntry => ({ subject, scope, reason, at });

describe('the send-time check', () => {
  it('allows marketing mail with granted consent and no suppression', () => {
    expect(checkSend(marketing, [])).toEqual({ allowed: true });
  });

  it('stops marketing mail after an unsubscribe newer than the consent evidence, not transactional mail', () => {
    const unsubscribed = [entry(profileSubject('p1'), 'marketing', 'unsubscribed')];
    expect(checkSend(marketing, unsubscribed)).toEqual({ allowed: false, reason: 'unsubscribed' });
    expect(checkSend({ ...marketing, purpose: 'transactional', consent: undefined }, unsubscribed)).toEqual({ allowed: true });
  });

  it('lets a consent granted after the unsubscribe through (the customer subscribed again)', () => {
    const later = { ...marketing, consent: { purpose: 'marketing', status: 'confirmed', proof: { at: '2026-03-01T00:00:00Z' } } };
    expect(checkSend(later, [entry(profileSubject('p1'), 'marketing', 'unsubscribed')])).toEqual({ allowed: true });
    // A complaint is not lifted by consent evidence.
    expect(checkSend(later, [entry(addressSubject('anna@example.com'), 'marketing', 'complaint')])).toEqual({ allowed: false, reason: 'complaint' });
  });

  it('stops all mail to a hard-bounced address (case-insensitive) and everything to an erased profile', () => {
    expect(checkSend({ ...marketing, purpose: 'transactional' }, [entry(addressSubject('anna@example.com'), 'all', 'hard-bounce')])).toEqual({ allowed: false, reason: 'hard-bounce' });
    expect(checkSend({ channel: 'webhook', purpose: 'transactional', profileId: 'p1' }, [entry(profileSubject('p1'), 'all', 'erased')])).toEqual({ allowed: false, reason: 'erased' });
  });

  it('keeps an address as a SHA-256 of its trimmed lower-case form: the suppression list holds no address in the clear', () => {
    const subject = addressSubject(' Anna@Example.com ');
    // The same digest as PostgreSQL's encode(sha256(convert_to('anna@example.com', 'UTF8')), 'hex'), which the
    // migration of existing rows uses.
    expect(subject).toBe('address-sha256:f7d54c22dda5b1780276601cd005909b70543fc4a6ba72d735b4cb9bbb611f01');
    expect(addressSubject('anna@example.com')).toBe(subject);
    expect(addressSubject('anne@example.com')).not.toBe(subject);
  });

  it('refuses marketing mail without granted or confirmed consent evidence', () => {
    expect(checkSend({ ...marketing, consent: undefined }, [])).toEqual({ allowed: false, reason: 'no-consent' });
    expect(checkSend({ ...marketing, consent: { purpose: 'marketing', status: 'not-required' } }, [])).toEqual({ allowed: false, reason: 'no-consent' });
  });
});
