import { DOMAIN_PATTERN, MAILBOX_PATTERN } from '@kairos/definitions';
import { composeMail, MailInput } from './mail-headers';

/**
 * `kairos validate` checks a template's or journey's sender with the definitions schema's patterns; dispatch composes
 * with its own parser. Both must give the same answer, or a definition that publishes fails every mail it sends.
 */
const BASE: MailInput = {
  dispatchId: 'disp-1',
  purpose: 'transactional',
  from: 'Shop <hello@shop.example>',
  to: 'anna@example.ch',
  sendingDomain: 'mail.shop.example',
  message: { subject: 'Hello', html: '<p>x</p>', text: 'x' },
};

const MAILBOXES = [
  'Shop <hello@shop.example>',
  'hello@shop.example',
  '  hello@shop.example ',
  '"Shop, AG" <hello@shop.example>',
  '<hello@shop.example>',
  'a,b@shop.example',
  'O"Brien <x@shop.example>',
  'Outdoor-Team outdoor@shop',
  'x@y',
  'Shop <hello@shop.example',
  'two@shop.example, three@shop.example',
];
const DOMAINS = ['mail.shop.example', 'shop.example', 'mail.shop.example.', 'localhost', 'local_host.ch', '-bad.example', 'xn--zrich-kva.ch'];

describe('the sender formats of definitions and of dispatch', () => {
  it.each(MAILBOXES)('agree on the mailbox %j', (mailbox) => {
    expect(new RegExp(MAILBOX_PATTERN, 'u').test(mailbox)).toBe(composeMail({ ...BASE, from: mailbox }).ok);
  });

  it.each(DOMAINS)('agree on the domain %j', (domain) => {
    expect(new RegExp(DOMAIN_PATTERN, 'u').test(domain)).toBe(composeMail({ ...BASE, sendingDomain: domain }).ok);
  });
});
