import { ComposedMail, preferredTextEncoding } from '@kairos/dispatch-core';
import MailComposer from 'nodemailer/lib/mail-composer';
import PostalMime from 'postal-mime';
import { encodedParts } from './mail-transport.repository';

/** The message nodemailer's MIME builder makes of it (what its SMTP transport sends), read back by a MIME parser. */
async function built(mail: ComposedMail, parts: object) {
  const message = await new MailComposer({ ...mail, textEncoding: 'quoted-printable', ...parts }).compile().build();
  return { raw: message.toString('latin1'), parsed: await PostalMime.parse(message) };
}

const MAIL: ComposedMail = {
  from: { name: 'Shop', address: 'hello@shop.example' },
  to: { name: '', address: 'anna@example.ch' },
  subject: 'Ihr Warenkorb',
  html: `<td style="${'font-family:Helvetica, Arial, sans-serif;'.repeat(8)}">Grüezi Anna</td>\n<p>Wanderschuh × 1 — CHF\u00a01’234.50 a=b</p>\n${'🛒'.repeat(40)} \n`,
  text: 'Grüezi Anna\nWanderschuh × 1 — CHF\u00a01’234.50 \t\nhttps://shop.example/p/wanderschuh?a=1&b=2',
  messageId: '<d-1@shop.example>',
  headers: { 'List-Unsubscribe': '<https://mail.shop.example/u/T>' },
};

describe('encodedParts', () => {
  it('gives the same HTML and text as nodemailer encoding them itself, in a multipart/alternative message', async () => {
    expect(preferredTextEncoding(MAIL.html, MAIL.text ?? '', MAIL.subject)).toBe('quoted-printable');
    const ours = await built(MAIL, encodedParts(MAIL, 'quoted-printable'));
    const theirs = await built(MAIL, {});
    expect(ours.parsed.html).toBe(theirs.parsed.html);
    expect(ours.parsed.text).toBe(theirs.parsed.text);
    expect(ours.parsed.subject).toBe('Ihr Warenkorb');
    expect(ours.parsed.headers.find((header) => header.key === 'content-type')?.value).toMatch(/^multipart\/alternative; boundary=/);
    expect(ours.raw.match(/Content-Transfer-Encoding: quoted-printable/g)).toHaveLength(2);
  });

  it('leaves a mail of HTML alone, and base64, to nodemailer', () => {
    expect(encodedParts({ ...MAIL, text: undefined }, 'quoted-printable')).toEqual({});
    expect(encodedParts(MAIL, 'base64')).toEqual({});
  });
});
