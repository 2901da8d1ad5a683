import { mapHtmlLinks } from './html-links';
import { SigningKeys, signToken, urlHash } from './signed-token';

export interface TrackingOptions {
  profileId: string;
  dispatchId: string;
  keys: SigningKeys;
  /** Where dispatch serves /c (click) and /o (open), e.g. https://mail.shop.example — no trailing slash needed. */
  baseUrl: string;
  /** Off for mail that must not be tracked (a double opt-in confirmation, say); on by default. */
  openPixel?: boolean;
}

export interface TrackedMessage {
  html: string;
  /** The links that became click links, by index: what the mail offered, for the outcome record. */
  links: Array<{ index: number; url: string }>;
}

/**
 * Makes every http(s) link of rendered HTML a signed click link and appends an open pixel. Links to dispatch's own
 * endpoints (the unsubscribe link) stay as they are: they are already signed, and RFC 8058 wants them direct.
 */
export function trackLinks(html: string, options: TrackingOptions): TrackedMessage {
  const base = options.baseUrl.replace(/\/+$/, '');
  const links: TrackedMessage['links'] = [];
  const tracked = mapHtmlLinks(html, (link) => {
    if (link.tag === 'img' || !/^https?:\/\//i.test(link.url) || link.url.startsWith(`${base}/`)) return undefined;
    const index = links.length;
    links.push({ index, url: link.url });
    return clickUrl(base, link.url, index, options);
  });
  if (options.openPixel === false) return { html: tracked, links };
  const token = signToken({ purpose: 'open', profileId: options.profileId, dispatchId: options.dispatchId }, options.keys);
  const pixel = `<img src="${base}/o/${token}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
  const bodyEnd = tracked.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i);
  return { html: bodyEnd < 0 ? `${tracked}${pixel}` : `${tracked.slice(0, bodyEnd)}${pixel}${tracked.slice(bodyEnd)}`, links };
}

/** `<base>/c/<token>?u=<url>`: the URL travels with the click, and the token proves it was link `index` of the mail. */
export function clickUrl(baseUrl: string, url: string, index: number, options: Pick<TrackingOptions, 'profileId' | 'dispatchId' | 'keys'>): string {
  const token = signToken({ purpose: 'click', profileId: options.profileId, dispatchId: options.dispatchId, link: { index, urlHash: urlHash(url) } }, options.keys);
  return `${baseUrl.replace(/\/+$/, '')}/c/${token}?u=${encodeURIComponent(url)}`;
}
