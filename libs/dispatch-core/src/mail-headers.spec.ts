import { readFileSync } from 'node:fs';
import { composeMail, ComposedMail, DKIM_HEADER_FIELD_NAMES, DKIM_SIGNED_HEADERS, MailInput, messageIdFor } from './mail-headers';

const INPUT: MailInput = {
  dispatchId: 'disp_01JD8Z.cart-reminder.3',
  purpose: 'marketing',
  from: 'Shop <hello@shop.example>',
  replyTo: '"Shop service" <service@shop.example>',
  to: { name: 'Anna Muster', address: 'anna@example.ch' },
  sendingDomain: 'mail.shop.example',
  message: { subject: 'You left something in your cart', html: '<p>x</p>', text: 'x' },
  unsubscribe: { url: 'https://mail.shop.example/u/k1.abc.def', mailto: 'unsubscribe@mail.shop.example' },
};

function composed(input: MailInput): ComposedMail {
  const result = composeMail(input);
  if (!result.ok) throw new Error(`${result.reason}: ${result.message}`);
  return result.mail;
}

function everyHeaderValue(mail: ComposedMail): string[] {
  const addresses = [mail.from, mail.to, ...(mail.replyTo ? [mail.replyTo] : [])].flatMap((address) => [address.name, address.address]);
  return [mail.subject, mail.messageId, ...addresses, ...Object.keys(mail.headers), ...Object.values(mail.headers)];
}

describe('composeMail', () => {
  it('gives marketing mail the RFC 8058 one-click headers and a Message-ID from the dispatch id', () => {
    const mail = composed(INPUT);
    expect(mail).toEqual({
      from: { name: 'Shop', address: 'hello@shop.example' },
      replyTo: { name: 'Shop service', address: 'service@shop.example' },
      to: { name: 'Anna Muster', address: 'anna@example.ch' },
      subject: 'You left something in your cart',
      html: '<p>x</p>',
      text: 'x',
      messageId: '<disp_01JD8Z.cart-reminder.3@mail.shop.example>',
      headers: {
        'X-Kairos-Dispatch-Id': 'disp_01JD8Z.cart-reminder.3',
        'List-Unsubscribe': '<https://mail.shop.example/u/k1.abc.def>, <mailto:unsubscribe@mail.shop.example?subject=unsubscribe>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    });
  });

  it('keeps the Message-ID stable across attempts and valid for any dispatch id', () => {
    expect(messageIdFor('d-1', 'shop.example')).toBe(messageIdFor('d-1', 'shop.example'));
    expect(messageIdFor('journey/cart:3 step@2', 'shop.example')).toMatch(/^<h\.[0-9a-f]{40}@shop\.example>$/);
    expect(messageIdFor('a..b', 'shop.example')).not.toBe(messageIdFor('a.b', 'shop.example'));
  });

  it('gives transactional mail no list headers', () => {
    const mail = composed({ ...INPUT, purpose: 'transactional', unsubscribe: undefined });
    expect(Object.keys(mail.headers)).toEqual(['X-Kairos-Dispatch-Id']);
  });

  it('refuses marketing mail without an https one-click URL', () => {
    expect(composeMail({ ...INPUT, unsubscribe: undefined })).toMatchObject({ ok: false, reason: 'missing-unsubscribe' });
    expect(composeMail({ ...INPUT, unsubscribe: { url: 'http://mail.shop.example/u/t' } })).toMatchObject({ ok: false, reason: 'invalid-unsubscribe' });
    expect(composed({ ...INPUT, unsubscribe: { url: 'http://localhost:3000/u/t' }, allowInsecureUnsubscribe: true }).headers['List-Unsubscribe']).toBe('<http://localhost:3000/u/t>');
    expect(composeMail({ ...INPUT, unsubscribe: { url: 'https://x.example/u', mailto: 'a@b.example>, <https://evil.example' } })).toMatchObject({ ok: false, reason: 'invalid-unsubscribe' });
  });

  it('lets no CR or LF from traits reach a header', () => {
    const injection = '\r\nBcc: victim@example.com\r\n';
    const mail = composed({
      ...INPUT,
      dispatchId: `d-1${injection}`,
      to: { name: `Anna${injection}`, address: 'anna@example.ch' },
      message: { subject: `Hi${injection}there`, html: 'x' },
      unsubscribe: { url: `https://mail.shop.example/u/t${injection}` },
    });
    for (const value of everyHeaderValue(mail)) expect(value).not.toMatch(/[\r\n]/);
    expect(mail.to).toEqual({ name: 'Anna Bcc: victim@example.com', address: 'anna@example.ch' });
    expect(mail.subject).toBe('Hi Bcc: victim@example.com there');
    expect(composeMail({ ...INPUT, to: { name: 'Anna', address: `anna@example.ch${injection}` } })).toMatchObject({ ok: false, reason: 'invalid-address' });
    expect(composeMail({ ...INPUT, to: 'anna@example.ch, victim@example.com' })).toMatchObject({ ok: false, reason: 'invalid-address' });
    expect(composeMail({ ...INPUT, to: 'Anna <anna@example.ch>\nBcc: victim@example.com' })).toMatchObject({ ok: false, reason: 'invalid-address' });
    expect(composeMail({ ...INPUT, sendingDomain: 'shop.example\r\nX: y' })).toMatchObject({ ok: false, reason: 'invalid-domain' });
  });

  it('has DKIM sign nodemailer’s default headers and List-Unsubscribe-Post', () => {
    // Read from the installed nodemailer's source, so an upgrade that changes its list shows up here.
    const source = readFileSync(require.resolve('nodemailer/lib/dkim/sign.js'), 'utf8');
    const defaults = /let defaultFieldNames =([^;]*);/.exec(source)?.[1]?.replace(/['+\s]/g, '');
    expect(defaults?.split(':')).toContain('List-Unsubscribe');
    expect(DKIM_HEADER_FIELD_NAMES).toBe(`${defaults}:List-Unsubscribe-Post`);
    expect(DKIM_SIGNED_HEADERS).toEqual(expect.arrayContaining(['List-Unsubscribe', 'List-Unsubscribe-Post']));
  });
});
