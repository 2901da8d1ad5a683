import Handlebars from 'handlebars';

/** A URL-bearing attribute in rendered HTML: `<a href>`, `<area href>` or `<img src>`. */
export interface HtmlLink {
  tag: 'a' | 'area' | 'img';
  attribute: 'href' | 'src';
  /** The URL as a browser reads it (entities decoded: Handlebars writes & as &amp; and = as &#x3D;). */
  url: string;
  /** 1-based line of the tag in the HTML, for `kairos preview`. */
  line: number;
}

// A tag, with quoted attribute values allowed to contain ">".
const TAG = /<(a|area|img)\b((?:[^>"']|"[^"]*"|'[^']*')*)>/gi;
const ATTRIBUTE = /(\s)(href|src)(\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i;

/**
 * Calls `replace` for each URL attribute of rendered HTML, in document order, and writes back the URL it returns
 * (escaped again), or leaves the attribute as it was on undefined. Rendered HTML is our own template's output, so a
 * regular scan of the tags is enough; this is not a parser for arbitrary HTML.
 */
export function mapHtmlLinks(html: string, replace: (link: HtmlLink) => string | undefined): string {
  // Line numbers counted as the scan moves on, not by splitting everything before each tag (quadratic on a 2 MB mail).
  let countedTo = 0;
  let line = 1;
  return html.replace(TAG, (tag: string, name: string, attributes: string, offset: number) => {
    const tagName = name.toLowerCase() as HtmlLink['tag'];
    const match = ATTRIBUTE.exec(attributes);
    if (!match) return tag;
    const attribute = (match[2] ?? '').toLowerCase();
    if ((tagName === 'img') !== (attribute === 'src')) return tag;
    const raw = match[4] ?? match[5] ?? match[6] ?? '';
    for (; countedTo < offset; countedTo++) if (html.charCodeAt(countedTo) === 10) line += 1;
    const replacement = replace({ tag: tagName, attribute: attribute as HtmlLink['attribute'], url: decodeEntities(raw), line });
    if (replacement === undefined) return tag;
    const rewritten = attributes.replace(ATTRIBUTE, `${match[1]}${match[2]}${match[3]}"${Handlebars.escapeExpression(replacement)}"`);
    return `<${name}${rewritten}>`;
  });
}

/** Every URL attribute of rendered HTML. */
export function htmlLinks(html: string): HtmlLink[] {
  const links: HtmlLink[] = [];
  mapHtmlLinks(html, (link) => {
    links.push(link);
    return undefined;
  });
  return links;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (entity: string, body: string) => {
    if (body[0] !== '#') return NAMED[body.toLowerCase()] ?? entity;
    const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}
