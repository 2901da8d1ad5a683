import { mapHtmlLinks } from './html-links';
import { SigningKeys, TokenClaims, TokenPurpose, signToken, urlHash } from './signed-token';

/** Where dispatch serves each purpose's endpoint, below its public base URL; the token follows the path. */
export const ENGAGEMENT_PATHS: Readonly<Record<TokenPurpose, string>> = { unsubscribe: '/u/', confirm: '/confirm/', open: '/o/', click: '/c/' };

/** `<base>/<path><token>`: the unsubscribe URL (page and RFC 8058 POST), the confirm URL, the open pixel. */
export function engagementUrl(baseUrl: string, claims: TokenClaims, keys: SigningKeys): string {
  return `${baseUrl.replace(/\/+$/, '')}${ENGAGEMENT_PATHS[claims.purpose]}${signToken(claims, keys)}`;
}

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
  const pixelUrl = engagementUrl(base, { purpose: 'open', profileId: options.profileId, dispatchId: options.dispatchId }, options.keys);
  const pixel = `<img src="${pixelUrl}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
  const bodyEnd = tracked.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i);
  return { html: bodyEnd < 0 ? `${tracked}${pixel}` : `${tracked.slice(0, bodyEnd)}${pixel}${tracked.slice(bodyEnd)}`, links };
}

/** `<base>/c/<token>?u=<url>`: the URL travels with the click, and the token proves it was link `index` of the mail. */
export function clickUrl(baseUrl: string, url: string, index: number, options: Pick<TrackingOptions, 'profileId' | 'dispatchId' | 'keys'>): string {
  const claims: TokenClaims = { purpose: 'click', profileId: options.profileId, dispatchId: options.dispatchId, link: { index, urlHash: urlHash(url) } };
  return `${engagementUrl(baseUrl, claims, options.keys)}?u=${encodeURIComponent(url)}`;
}
