import { dispatchIdOf, readDeliveryStatus, readFeedbackReport } from './delivery-status';

const STATUS = `Reporting-MTA: dns; mx.example
Arrival-Date: Mon, 7 Dec 2026 10:00:00 +0100

Final-Recipient: rfc822; anna@example.ch
Original-Recipient: rfc822;anna@example.ch
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <anna@example.ch>: Recipient address rejected:
 User unknown in virtual mailbox table

Final-Recipient: rfc822; ben@example.ch
Action: failed
Status: 4.2.2 (mailbox full)

Final-Recipient: rfc822; chris@example.ch
Action: delayed
Status: 4.4.1

Final-Recipient: rfc822; dora@example.ch
Action: delivered
Status: 2.0.0
`;

const RETURNED = 'From: Shop <hello@shop.example>\r\nTo: anna@example.ch\r\nMessage-ID:\r\n <d-721e7630959fa00c16179e1e@mail.shop.example>\r\nSubject: You left something\r\n\r\nbody';

describe('delivery-status notifications (RFC 3464) and abuse reports (RFC 5965)', () => {
  it('reads failed recipients: 5.x.x a hard bounce, 4.x.x given up a soft one; delayed and delivered are none', () => {
    expect(readDeliveryStatus(STATUS, RETURNED)).toEqual([
      { type: 'hard-bounce', recipient: 'anna@example.ch', dispatchId: 'd-721e7630959fa00c16179e1e', status: '5.1.1', diagnostic: '550 5.1.1 <anna@example.ch>: Recipient address rejected: User unknown in virtual mailbox table' },
      { type: 'soft-bounce', recipient: 'ben@example.ch', dispatchId: 'd-721e7630959fa00c16179e1e', status: '4.2.2' },
    ]);
  });

  it('needs no returned message: the recipient alone names the address', () => {
    expect(readDeliveryStatus(STATUS.replace(/\n/g, '\r\n'))[0]).toEqual({ type: 'hard-bounce', recipient: 'anna@example.ch', status: '5.1.1', diagnostic: expect.stringContaining('User unknown') });
  });

  it('reads an abuse report as a complaint about the returned message; other feedback types are none', () => {
    const abuse = 'Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\nOriginal-Rcpt-To: <anna@example.ch>\n';
    expect(readFeedbackReport(abuse, RETURNED)).toEqual([{ type: 'complaint', recipient: 'anna@example.ch', dispatchId: 'd-721e7630959fa00c16179e1e' }]);
    expect(readFeedbackReport('Feedback-Type: not-spam\nVersion: 1\n', RETURNED)).toEqual([]);
  });

  it('takes the dispatch id from a Message-ID dispatch made, not from a hashed or foreign one', () => {
    expect(dispatchIdOf('<d-1@mail.shop.example>')).toBe('d-1');
    expect(dispatchIdOf('<h.0123abcd@mail.shop.example>')).toBeUndefined();
    expect(dispatchIdOf('not a message id')).toBeUndefined();
  });
});
