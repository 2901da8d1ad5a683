/**
 * Text on one line: CR, LF, the Unicode line separators and every other control character become a space. For
 * subjects and header values, where a line break from a trait would end the header and start another.
 */
export function oneLine(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}
