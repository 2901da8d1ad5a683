const HEX = '0123456789ABCDEF';
const EQUALS = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
/** Characters per encoded line, the soft break's "=" included (RFC 2045, 6.7, rule 5). */
const LINE = 76;

/**
 * Text as quoted-printable (RFC 2045, 6.7) of its UTF-8 bytes, in one pass: printable ASCII but "=" as itself, every
 * other byte as =XX, a space or tab before a line break as =20 or =09, each line break (\n or \r\n) as CRLF, and lines
 * longer than 76 characters broken with soft breaks ("=" at the end), never inside an =XX nor inside a character's
 * UTF-8 sequence (as nodemailer breaks them: a client decoding line by line shows no broken character). A lone \r is a
 * byte like any other (=0D; nodemailer would pass it through bare). nodemailer's own encoder was a seventh of
 * dispatch's CPU per mail for the ~14 KB HTML of an MJML layout (string concatenation per character and regular
 * expressions per line).
 */
export function encodeQuotedPrintable(text: string): string {
  const input = Buffer.from(text, 'utf8');
  // Worst case: every byte escaped (3), and a soft break (3) per 22 input bytes at least: a sequence of up to 12
  // characters that does not fit breaks the line at column 64 or later, and an escape is 3 characters a byte
  // (("🛒" + "=".repeat(18)).repeat(n) comes closest, 99.5% of this).
  const output = Buffer.allocUnsafe(input.length * 3 + Math.ceil(input.length / 20) * 3 + 3);
  let at = 0;
  let column = 0;
  const softBreak = () => {
    output[at++] = EQUALS;
    output[at++] = CR;
    output[at++] = LF;
    column = 0;
  };
  for (let index = 0; index < input.length; index++) {
    const byte = input[index];
    if (byte === LF || (byte === CR && input[index + 1] === LF)) {
      // \r\n and \n are each one hard line break.
      if (byte === CR) index++;
      output[at++] = CR;
      output[at++] = LF;
      column = 0;
      continue;
    }
    const next = input[index + 1];
    const atLineEnd = next === undefined || next === LF || (next === CR && input[index + 2] === LF);
    const literal = (byte >= 0x21 && byte <= 0x7e && byte !== EQUALS) || ((byte === SPACE || byte === TAB) && !atLineEnd);
    // Room for this byte (a character's whole UTF-8 sequence, from its first byte) and, unless the line ends after it,
    // the "=" of a soft break.
    const width = literal ? 1 : byte >= 0xc0 ? 3 * (byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2) : 3;
    if (column + width > (atLineEnd ? LINE : LINE - 1)) softBreak();
    if (literal) output[at++] = byte;
    else {
      output[at++] = EQUALS;
      output[at++] = HEX.charCodeAt(byte >> 4);
      output[at++] = HEX.charCodeAt(byte & 0x0f);
    }
    column += literal ? 1 : 3;
  }
  // A write past the buffer's end is dropped silently: a mail cut short must fail instead.
  if (at > output.length) throw new Error(`quoted-printable: ${at} bytes do not fit the ${output.length} reserved`);
  return output.toString('latin1', 0, at);
}

/** nodemailer's finished MIME part; `content` stays unset (naming it lets the part pass where nodemailer's types expect content). */
export interface EncodedPart {
  raw: string;
  content?: undefined;
}

/**
 * A text part of a mail, already encoded, in the form nodemailer takes a finished MIME part (`{ raw }`: its headers,
 * a blank line, its body). Only for a part inside a multipart message: as the whole message, nodemailer would send the
 * raw part instead of the message's own headers.
 */
export function quotedPrintablePart(contentType: string, content: string): EncodedPart {
  return { raw: `Content-Type: ${contentType}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${encodeQuotedPrintable(content)}` };
}
