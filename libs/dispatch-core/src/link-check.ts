import { HtmlLink, htmlLinks } from './html-links';

export type LinkProblemKind = 'empty' | 'relative' | 'malformed' | 'insecure' | 'unsupported-scheme';

export interface LinkProblem extends HtmlLink {
  problem: LinkProblemKind;
}

export interface LinkCheckOptions {
  /** http:// links pass (a local preview); by default only https is accepted for links and images. */
  allowHttp?: boolean;
}

const OTHER_SCHEMES = ['mailto:', 'tel:'];

/**
 * The links and images of rendered HTML that will not work in a mail client: empty, relative (a mail has no base
 * URL), malformed, not https, or of a scheme other than http(s), mailto and tel (images: http(s) only).
 */
export function checkLinks(html: string, options: LinkCheckOptions = {}): LinkProblem[] {
  return htmlLinks(html).flatMap((link) => {
    const problem = linkProblem(link, options);
    return problem ? [{ ...link, problem }] : [];
  });
}

function linkProblem(link: HtmlLink, options: LinkCheckOptions): LinkProblemKind | undefined {
  const url = link.url.trim();
  if (url === '') return 'empty';
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(url)) return 'malformed';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return isRelative(url) ? 'relative' : 'malformed';
  }
  // URL accepts "https:shop.example" and "https:/x"; a mail client may not.
  if ((parsed.protocol === 'https:' || parsed.protocol === 'http:') && (!/^https?:\/\/[^/]/i.test(url) || parsed.hostname === '')) return 'malformed';
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && options.allowHttp)) return undefined;
  if (parsed.protocol === 'http:') return 'insecure';
  if (link.tag !== 'img' && OTHER_SCHEMES.includes(parsed.protocol)) return undefined;
  return 'unsupported-scheme';
}

function isRelative(url: string): boolean {
  try {
    new URL(url, 'https://base.invalid/');
    return true;
  } catch {
    return false;
  }
}
