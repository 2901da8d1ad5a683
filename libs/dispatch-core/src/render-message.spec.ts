import { TEMPLATE_HELPERS } from '@kairos/definitions';
import { MESSAGE_HELPERS } from './message-helpers';
import { MessageContext, renderMessage, RenderOptions, RenderResult } from './render-message';
import { SHOP_PARTIALS as PARTIALS, SHOP_TEMPLATE_IDS, shopTemplate } from './testing/shop-templates';

const DE_CH: RenderOptions = { locale: 'de-CH', timeZone: 'Europe/Zurich' };
const NBSP = '\u00a0';

function context(overrides: Partial<MessageContext> = {}): MessageContext {
  return {
    profile: { firstName: 'Anna', email: 'anna@example.ch', lifetimeRevenue: 5234.5, lastOrderAt: '2026-08-31T22:30:00Z' },
    journey: { id: 'abandoned-cart', version: 3 },
    step: 'reminder',
    variant: 'A',
    unsubscribeUrl: 'https://mail.shop.example/u/TOKEN',
    preferencesUrl: 'https://shop.example/preferences',
    ...overrides,
  };
}

const CART = {
  cartId: 'c-42',
  currency: 'CHF',
  products: [
    { name: 'Wool socks', price: 19.9, quantity: 2, url: 'https://shop.example/p/socks?ref=mail&x=1', imageUrl: 'https://cdn.shop.example/socks.jpg' },
    { name: 'Rain jacket', price: 1234.5, quantity: 1, url: 'https://shop.example/p/jacket', imageUrl: 'https://cdn.shop.example/jacket.jpg' },
  ],
};

function rendered(result: RenderResult) {
  if (!result.ok) throw new Error(`render failed: ${result.reason}: ${result.message}`);
  return result.message;
}

function render(source: string, data: Partial<MessageContext> = {}, options: RenderOptions = DE_CH): RenderResult {
  return renderMessage({ subject: 'S', html: source }, PARTIALS, context(data), options);
}

describe('renderMessage: the shop templates', () => {
  it('renders the abandoned cart with its products, CHF prices in de-CH and working links', () => {
    const message = rendered(renderMessage(shopTemplate('cart-reminder'), PARTIALS, context({ event: CART }), DE_CH));
    expect(message.subject).toBe('You left something in your cart');
    // The HTML escapes the apostrophe Intl uses as de-CH's group separator; a mail client shows CHF 1'234.50.
    expect(message.html).toContain(`Rain jacket</a> × 1 — CHF${NBSP}1&#x27;234.50`);
    expect(message.html).toContain(`Wool socks</a> × 2 — CHF${NBSP}19.90`);
    // The MJML layout: each product's image (linked to it) in a column beside its name and price.
    expect(message.html).toMatch(/<img\s+alt="Rain jacket" src="https:\/\/cdn\.shop\.example\/jacket\.jpg"/);
    expect(message.html).toContain('class="mj-column-per-35 mj-outlook-group-fix"');
    // Handlebars escapes & and = in attributes; a browser reads them back as the same URL.
    expect(message.html).toContain('href="https://shop.example/p/socks?ref&#x3D;mail&amp;x&#x3D;1"');
    expect(message.html).toContain('<a href="https://mail.shop.example/u/TOKEN">Unsubscribe</a>');
    expect(message.text).toContain(`- Rain jacket x 1: CHF${NBSP}1'234.50 https://shop.example/p/jacket`);
    expect(message.text).toContain('- Wool socks x 2: CHF\u00a019.90 https://shop.example/p/socks?ref=mail&x=1');
    expect(message.text).toContain('Unsubscribe: https://mail.shop.example/u/TOKEN');
  });

  it('renders every shop template with a realistic context', () => {
    for (const id of SHOP_TEMPLATE_IDS) {
      const result = renderMessage(shopTemplate(id), PARTIALS, context({ event: CART, confirmUrl: 'https://mail.shop.example/confirm/T' }), DE_CH);
      expect({ id, ok: result.ok }).toEqual({ id, ok: true });
    }
  });

  it('formats money and dates in the profile locale and time zone', () => {
    expect(rendered(renderMessage(shopTemplate('vip-thank-you'), PARTIALS, context(), DE_CH)).text).toContain(`You have spent CHF${NBSP}5'234.50 with us.`);
    // 22:30 UTC on 31 August is already 1 September in Zurich.
    expect(rendered(renderMessage(shopTemplate('win-back'), PARTIALS, context(), DE_CH)).text).toContain('Your last order was on 1. September 2026.');
    expect(rendered(renderMessage(shopTemplate('win-back'), PARTIALS, context(), { locale: 'en-US', timeZone: 'America/New_York' })).text).toContain(
      'Your last order was on August 31, 2026.',
    );
  });

  it('uses the default for a missing first name', () => {
    const message = rendered(renderMessage(shopTemplate('welcome-1'), PARTIALS, context({ profile: { email: 'x@example.ch' } }), DE_CH));
    expect(message.subject).toBe('Welcome to the shop, friend!');
    expect(message.html).toContain('Hello there, thank you');
  });
});

describe('renderMessage: helpers', () => {
  it('registers exactly the helpers publish-time validation allows', () => {
    const builtIn = ['if', 'unless', 'with', 'lookup'];
    expect([...builtIn, ...Object.keys(MESSAGE_HELPERS)].sort()).toEqual([...TEMPLATE_HELPERS].sort());
  });

  it('picks plural forms with Intl.PluralRules and formats the count', () => {
    const source = '{{plural event.n one="# Artikel" other="# Artikel (mehrere)"}}|{{plural event.m one="one item" other="# items"}}';
    expect(rendered(render(source, { event: { n: 1, m: 1234 } })).html).toBe('1 Artikel|1&#x27;234 items');
    expect(rendered(render('{{plural event.n one="# file" few="# pliki" many="# plików" other="# pliku"}}', { event: { n: 5 } }, { locale: 'pl', timeZone: 'UTC' })).html).toBe('5 plików');
  });

  it('formats dates with styles, case and equality', () => {
    const source = '{{formatDate event.at dateStyle="short" timeStyle="short"}} {{upper profile.firstName}} {{#if (eq variant "A")}}A{{else}}B{{/if}}';
    expect(rendered(render(source, { event: { at: '2026-11-23T13:05:00Z' } })).html).toBe('23.11.26, 14:05 ANNA A');
  });

  it('fails instead of printing a half price', () => {
    expect(render('{{formatMoney event.price "CHF"}}', { event: {} })).toMatchObject({ ok: false, reason: 'invalid-value', part: 'html' });
    expect(render('{{formatMoney 12 "Swiss francs"}}')).toMatchObject({ ok: false, reason: 'invalid-value' });
    expect(render('{{formatDate event.at}}', { event: { at: 'yesterday' } })).toMatchObject({ ok: false, reason: 'invalid-value' });
  });

  it('refuses an unknown locale or time zone', () => {
    expect(render('x', {}, { locale: 'not a locale!', timeZone: 'UTC' })).toMatchObject({ ok: false, reason: 'invalid-option' });
    expect(render('x', {}, { locale: 'de-CH', timeZone: 'Mars/Olympus' })).toMatchObject({ ok: false, reason: 'invalid-option' });
  });
});

describe('renderMessage: safety', () => {
  it('escapes HTML from traits in the HTML, not in subject and text', () => {
    const xss = '<script>alert(1)</script>';
    const message = rendered(renderMessage({ subject: 'Hi {{profile.firstName}}', html: '<p>{{profile.firstName}}</p>', text: '{{profile.firstName}}' }, {}, context({ profile: { firstName: xss } }), DE_CH));
    expect(message.html).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(message.subject).toBe(`Hi ${xss}`);
    expect(message.text).toBe(xss);
  });

  it('makes the subject one line whatever the traits contain', () => {
    const message = rendered(renderMessage({ subject: 'Hi {{profile.firstName}}!', html: 'x' }, {}, context({ profile: { firstName: 'Anna\r\nBcc: victim@example.com\u2028' } }), DE_CH));
    expect(message.subject).toBe('Hi Anna Bcc: victim@example.com !');
  });

  it('refuses triple braces and allows unescaped HTML only through rawHtml', () => {
    expect(render('{{{profile.firstName}}}')).toMatchObject({ ok: false, reason: 'unescaped-output' });
    expect(render('{{#if profile}}{{& profile.firstName}}{{/if}}')).toMatchObject({ ok: false, reason: 'unescaped-output' });
    expect(rendered(render('{{rawHtml "<b>bold</b>"}}')).html).toBe('<b>bold</b>');
  });

  it('cannot reach prototypes or run code', () => {
    const attempts = [
      '{{constructor.constructor}}',
      '{{profile.constructor.constructor "return process"}}',
      '{{#with profile.__proto__}}{{constructor}}{{/with}}',
      '{{lookup profile "__proto__"}}{{lookup (lookup profile "constructor") "name"}}',
      '{{#with "x"}}{{constructor.name}}{{/with}}',
      '{{profile.firstName.constructor.name}}',
      '{{> constructor}}{{> __proto__}}',
    ];
    for (const source of attempts) {
      const result = render(`[${source}]`);
      // Either it is refused (a non-helper called with arguments, a partial that is not ours) or it renders nothing.
      if (result.ok) expect({ source, html: result.message.html }).toEqual({ source, html: '[]' });
      else expect(['unknown-helper', 'missing-partial']).toContain(result.reason);
    }
  });

  it('refuses helpers it does not know and partials that are not there', () => {
    expect(render('{{shout profile.firstName}}')).toMatchObject({ ok: false, reason: 'unknown-helper' });
    expect(render('{{#profile}}{{firstName}}{{/profile}}')).toMatchObject({ ok: false, reason: 'unknown-helper', message: 'line 1: {{#profile}} is not a helper; use {{#with …}} or {{#each …}}' });
    expect(render('{{> nope}}')).toMatchObject({ ok: false, reason: 'missing-partial' });
    expect(render('{{#if}')).toMatchObject({ ok: false, reason: 'syntax' });
  });

  it('stops a huge loop with a recorded failure', () => {
    const items = Array.from({ length: 50_000 }, (_, index) => index);
    expect(render('{{#each event.items}}{{this}}{{/each}}', { event: { items } })).toMatchObject({ ok: false, reason: 'iteration-limit', part: 'html' });
    // Nested loops count together: 200 × 200 is 40,000 iterations.
    const rows = Array.from({ length: 200 }, () => Array.from({ length: 200 }, () => 1));
    expect(render('{{#each event.rows}}{{#each this}}{{this}}{{/each}}{{/each}}', { event: { rows } })).toMatchObject({ ok: false, reason: 'iteration-limit' });
  });

  it('stops an output that grows past the limit long before 100 MB', () => {
    const long = 'x'.repeat(100_000);
    const items = Array.from({ length: 1_000 }, () => long); // would be 100 MB
    const started = Date.now();
    expect(render('{{#each event.items}}{{this}}{{/each}}', { event: { items } })).toMatchObject({ ok: false, reason: 'output-limit' });
    expect(Date.now() - started).toBeLessThan(5_000); // a sanity bound, not a benchmark
  });

  it('stops partials that double their output per level', () => {
    const partials: Record<string, string> = { p0: 'xxxxxxxxxx' };
    for (let level = 1; level <= 40; level++) partials[`p${level}`] = `{{> p${level - 1}}}{{> p${level - 1}}}`;
    const result = renderMessage({ subject: 'S', html: '{{> p40}}' }, partials, context(), DE_CH);
    expect(result).toMatchObject({ ok: false, reason: 'partial-limit' });
    expect(renderMessage({ subject: 'S', html: '{{> self}}' }, { self: 'a{{> self}}' }, context(), DE_CH)).toMatchObject({ ok: false, reason: 'partial-limit' });
  });

  it('never gives a blank subject or body', () => {
    expect(renderMessage({ subject: '{{profile.missing}}', html: 'x' }, {}, context(), DE_CH)).toMatchObject({ ok: false, reason: 'empty-output', part: 'subject' });
    expect(renderMessage({ subject: 's', html: ' {{profile.missing}} ' }, {}, context(), DE_CH)).toMatchObject({ ok: false, reason: 'empty-output', part: 'html' });
  });
});
