/**
 * The Content-Transfer-Encoding for a mail's text parts, by the rule nodemailer applies when it is not told:
 * quoted-printable when Latin letters outnumber the characters it would have to escape (control characters and
 * everything beyond ASCII), base64 otherwise. nodemailer counts them with `value.match(/[a-z]/gi)`, an array of one
 * string per letter, for every text part and header of every mail: a fifth of its CPU per mail in a profile. Counting
 * in a loop once per mail and passing the answer as `textEncoding` gives the same choice for the same text without
 * the allocation (a mail whose HTML and text would each choose differently takes the choice of their sum).
 */
export function preferredTextEncoding(...texts: readonly string[]): 'quoted-printable' | 'base64' {
  let latin = 0;
  let other = 0;
  for (const text of texts) {
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) latin += 1;
      else if (code <= 0x08 || code === 0x0b || code === 0x0c || (code >= 0x0e && code <= 0x1f) || code >= 0x80) other += 1;
    }
  }
  return other < latin ? 'quoted-printable' : 'base64';
}
