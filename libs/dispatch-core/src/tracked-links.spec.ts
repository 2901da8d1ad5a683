import { checkLinks } from './link-check';
import { renderMessage } from './render-message';
import { SigningKeys, verifyClickToken, verifyToken } from './signed-token';
import { SHOP_PARTIALS, shopTemplate } from './testing/shop-templates';
import { engagementUrl, trackLinks } from './tracked-links';

const KEYS: SigningKeys = { current: { id: 'k1', secret: 'a secret of thirty-two bytes or more' }, previous: [] };
const BASE = 'https://mail.shop.example';
const TRACKING = { profileId: 'p-1', dispatchId: 'd-1', keys: KEYS, baseUrl: BASE };

/** What the click endpoint does with a click link: verify, then redirect to u. */
function follow(clickLink: string): string | undefined {
  const parsed = new URL(clickLink);
  const token = parsed.pathname.replace(/^\/c\//, '');
  const url = parsed.searchParams.get('u') ?? '';
  return verifyClickToken(token, url, KEYS).ok ? url : undefined;
}

function hrefs(html: string): string[] {
  return [...html.matchAll(/href="([^"]*)"/g)].map((match) => (match[1] ?? '').replace(/&amp;/g, '&').replace(/&#x3D;/g, '='));
}

describe('trackLinks', () => {
  const html = '<p><a href="https://shop.example/p/socks?ref&#x3D;mail&amp;x&#x3D;1">socks</a> <a class="x" href=\'http://shop.example/a\'>a</a>' +
    ' <a href="mailto:help@shop.example">mail</a> <a href="https://mail.shop.example/u/TOKEN">Unsubscribe</a></p></body></html>';

  it('makes every http(s) link a signed click link that leads to that link only', () => {
    const tracked = trackLinks(html, TRACKING);
    expect(tracked.links).toEqual([
      { index: 0, url: 'https://shop.example/p/socks?ref=mail&x=1' },
      { index: 1, url: 'http://shop.example/a' },
    ]);
    const [socks, other, mailto, unsubscribe] = hrefs(tracked.html) as [string, string, string, string];
    expect(socks.startsWith(`${BASE}/c/k1.`)).toBe(true);
    expect(follow(socks)).toBe('https://shop.example/p/socks?ref=mail&x=1');
    expect(follow(other)).toBe('http://shop.example/a');
    // The token of one link does not open another URL: no open redirect.
    expect(follow(socks.replace(/\?u=.*/, `?u=${encodeURIComponent('https://evil.example/')}`))).toBeUndefined();
    expect(follow(socks.replace(/\?u=.*/, `?u=${encodeURIComponent('http://shop.example/a')}`))).toBeUndefined();
    expect(mailto).toBe('mailto:help@shop.example');
    expect(unsubscribe).toBe('https://mail.shop.example/u/TOKEN');
  });

  it('appends a signed open pixel before </body>', () => {
    const tracked = trackLinks(html, TRACKING);
    const pixel = /<img src="https:\/\/mail\.shop\.example\/o\/([^"]+)" width="1" height="1"[^>]*><\/body><\/html>$/.exec(tracked.html);
    expect(pixel).not.toBeNull();
    expect(verifyToken(pixel?.[1] ?? '', 'open', KEYS)).toMatchObject({ ok: true, claims: { profileId: 'p-1', dispatchId: 'd-1' } });
    expect(trackLinks('<p>x</p>', { ...TRACKING, openPixel: false }).html).toBe('<p>x</p>');
    expect(trackLinks('<p>x</p>', TRACKING).html).toMatch(/^<p>x<\/p><img src="https:\/\/mail\.shop\.example\/o\//);
  });

  it('tracks the rendered abandoned-cart mail', () => {
    const result = renderMessage(
      shopTemplate('cart-reminder'),
      SHOP_PARTIALS,
      {
        profile: { firstName: 'Anna' },
        event: { currency: 'CHF', products: [{ name: 'Socks', price: 19.9, quantity: 1, url: 'https://shop.example/p/socks', imageUrl: 'https://cdn.shop.example/s.jpg' }] },
        unsubscribeUrl: engagementUrl(BASE, { purpose: 'unsubscribe', profileId: 'p-1', dispatchId: 'd-1' }, KEYS),
        preferencesUrl: 'https://shop.example/preferences',
      },
      { locale: 'de-CH', timeZone: 'Europe/Zurich' },
    );
    if (!result.ok) throw new Error(result.message);
    const tracked = trackLinks(result.message.html, TRACKING);
    // The product's image and its name both link to it; the image itself is not rewritten.
    expect(tracked.links.map((link) => link.url)).toEqual(['https://shop.example/p/socks', 'https://shop.example/p/socks', 'https://shop.example/preferences']);
    expect(tracked.html).toMatch(/<img\s+alt="Socks" src="https:\/\/cdn\.shop\.example\/s\.jpg"/);
    expect(checkLinks(tracked.html)).toEqual([]);
  });
});

describe('checkLinks', () => {
  it('reports every link a mail client cannot follow, with its line', () => {
    const html = [
      '<a href="https://shop.example/ok">ok</a><a href="mailto:x@shop.example">m</a><img src="https://cdn.shop.example/i.png">',
      '<a href="">empty</a><a href="/cart">relative</a><a href="#top">anchor</a>',
      '<a href="http://shop.example/x">insecure</a><img src="http://cdn.shop.example/i.png">',
      '<a href="https://shop example/x">space</a><a href="https:shop.example">odd</a><a href="javascript:alert(1)">js</a><img src="data:image/png;base64,AA">',
    ].join('\n');
    expect(checkLinks(html).map(({ tag, url, line, problem }) => ({ tag, url, line, problem }))).toEqual([
      { tag: 'a', url: '', line: 2, problem: 'empty' },
      { tag: 'a', url: '/cart', line: 2, problem: 'relative' },
      { tag: 'a', url: '#top', line: 2, problem: 'relative' },
      { tag: 'a', url: 'http://shop.example/x', line: 3, problem: 'insecure' },
      { tag: 'img', url: 'http://cdn.shop.example/i.png', line: 3, problem: 'insecure' },
      { tag: 'a', url: 'https://shop example/x', line: 4, problem: 'malformed' },
      { tag: 'a', url: 'https:shop.example', line: 4, problem: 'malformed' },
      { tag: 'a', url: 'javascript:alert(1)', line: 4, problem: 'unsupported-scheme' },
      { tag: 'img', url: 'data:image/png;base64,AA', line: 4, problem: 'unsupported-scheme' },
    ]);
    expect(checkLinks('<a href="http://localhost:3000/x">dev</a>', { allowHttp: true })).toEqual([]);
  });
});
