import PostalMime from 'postal-mime';
import { encodeQuotedPrintable, quotedPrintablePart } from './quoted-printable';

/** The text a real MIME parser reads back from a part encoded here. */
async function decoded(text: string): Promise<string> {
  const mail = await PostalMime.parse(`Subject: x\r\nMIME-Version: 1.0\r\n${quotedPrintablePart('text/plain; charset=utf-8', text).raw}`);
  // The parser ends the text with a line break of its own.
  return (mail.text ?? '').replace(/\n$/, '');
}

const SAMPLES: Record<string, string> = {
  'long ASCII lines': `<td style="${'font-family:Helvetica, Arial, sans-serif;'.repeat(12)}">${'x'.repeat(300)}</td>`,
  'umlauts, a no-break space and the de-CH apostrophe': 'Grüezi Anna, Ihr Warenkorb: Wanderschuh × 1 — CHF\u00a01’234.50',
  'equals signs': 'a=b&c==d ='.repeat(20),
  'spaces and tabs before line breaks and at the end': 'one \ntwo\t\r\nthree  \n\tfour \t',
  'a lone carriage return': 'a\rb',
  'emoji across the soft breaks': '🛒'.repeat(60),
  'dots and From at line starts': '.\n.. leading dots\nFrom here',
  // Lines of whole multi-byte sequences break earliest: the output is longest for its input.
  'ten thousand umlauts': 'ü'.repeat(10_000),
  'paragraphs of Japanese': Array.from({ length: 6 }, () => 'お買い物かごに商品が残っています。'.repeat(30)).join('\n\n'),
  'six thousand emoji': '🛒'.repeat(6_000),
  'the longest output for its input': `a${'🛒'.concat('='.repeat(18)).repeat(600)}`,
};

describe('encodeQuotedPrintable', () => {
  it.each(Object.entries(SAMPLES))('%s: a MIME parser reads back the same text', async (_name, text) => {
    // Line breaks come back as \n (the parser's form); everything else byte for byte.
    expect(await decoded(text)).toBe(text.replace(/\r\n/g, '\n'));
  });

  it.each(Object.entries(SAMPLES))('%s: lines of at most 76 characters, printable ASCII, no whitespace at a line end', (_name, text) => {
    const encoded = encodeQuotedPrintable(text);
    for (const line of encoded.split('\r\n')) {
      expect(line.length).toBeLessThanOrEqual(76);
      expect(line).toMatch(/^[\x21-\x7e \t]*$/);
      expect(line).not.toMatch(/[ \t]$/);
      // A soft break never splits an escape, nor a character's UTF-8 sequence (a lead byte =C2..=F4 last on a line, a
      // continuation byte =80..=BF first on the next).
      expect(line).not.toMatch(/=[0-9A-F]?=$/);
      expect(line).not.toMatch(/=(C[2-9A-F]|[DEF][0-9A-F])=$|^=[89AB][0-9A-F]/);
    }
    expect(encoded).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
  });

  it('keeps what needs no escaping as it is, and breaks a long line only where it must', () => {
    expect(encodeQuotedPrintable('Hello, <b>world</b>!')).toBe('Hello, <b>world</b>!');
    expect(encodeQuotedPrintable('a = b')).toBe('a =3D b');
    expect(encodeQuotedPrintable('x'.repeat(76))).toBe('x'.repeat(76));
    expect(encodeQuotedPrintable('x'.repeat(77))).toBe(`${'x'.repeat(75)}=\r\nxx`);
    expect(encodeQuotedPrintable(`${'x'.repeat(74)}ü`)).toBe(`${'x'.repeat(74)}=\r\n=C3=BC`);
    expect(encodeQuotedPrintable(`${'x'.repeat(63)}🛒x`)).toBe(`${'x'.repeat(63)}=F0=9F=9B=92x`);
    expect(encodeQuotedPrintable(`${'x'.repeat(64)}🛒x`)).toBe(`${'x'.repeat(64)}=\r\n=F0=9F=9B=92x`);
    expect(encodeQuotedPrintable('end ')).toBe('end=20');
    expect(encodeQuotedPrintable('a\r\nb\nc\rd')).toBe('a\r\nb\r\nc=0Dd');
    expect(encodeQuotedPrintable('')).toBe('');
  });
});
