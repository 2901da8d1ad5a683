import { preferredTextEncoding } from './text-encoding';

describe('preferredTextEncoding', () => {
  it('chooses quoted-printable for German mail with umlauts, as nodemailer would', () => {
    expect(preferredTextEncoding('<p>Grüezi Anna, Ihr Warenkorb wartet: Wasserkocher für CHF 79.90</p>', 'Grüezi Anna')).toBe('quoted-printable');
  });

  it('chooses base64 for text mostly outside ASCII', () => {
    expect(preferredTextEncoding('Здравствуйте, Анна! Ваша корзина ждёт', '')).toBe('base64');
    expect(preferredTextEncoding('こんにちは、アンナさん')).toBe('base64');
  });

  it('counts control characters against quoted-printable, and leaves tabs and line breaks out', () => {
    expect(preferredTextEncoding('ab\u0001\u0002')).toBe('base64');
    expect(preferredTextEncoding('ab\t\r\n\t\r\n')).toBe('quoted-printable');
  });

  it('agrees with nodemailer on the same text', () => {
    const nodemailerRule = (value: string) => ((value.match(/[\x00-\x08\x0B\x0C\x0E-\x1F\u0080-\uFFFF]/g) ?? []).length < (value.match(/[a-z]/gi) ?? []).length ? 'quoted-printable' : 'base64'); // eslint-disable-line no-control-regex
    for (const text of ['', 'a', 'ä', 'aä', 'aäö', 'Zürich 😀 ok', '\u0000abc', 'ÀÉÎõü abc', 'x'.repeat(500) + 'é'.repeat(499), 'x'.repeat(500) + 'é'.repeat(500)]) {
      expect(preferredTextEncoding(text)).toBe(nodemailerRule(text));
    }
  });
});
