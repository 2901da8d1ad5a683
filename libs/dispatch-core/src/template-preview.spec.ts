import { DeclaredType, previewTemplate, PREVIEW_BASE_URL } from './template-preview';

const template = {
  subject: 'Hi {{profile.firstName}}',
  html: '<p>{{#each event.products}}<a href="{{url}}"><img src="{{imageUrl}}">{{name}}</a> {{formatMoney price ../event.currency}}{{/each}}</p><a href="{{unsubscribeUrl}}">Unsubscribe</a>',
  text: '{{#each event.products}}{{name}}: {{formatMoney price ../event.currency}}\n{{/each}}',
  context: { profile: { firstName: 'string' }, event: { currency: 'string', products: [{ name: 'string', price: 'number', url: 'string', imageUrl: 'string' }] } } as Record<string, DeclaredType>,
};
const options = { partials: {}, allowHttp: false, locale: 'de-CH', timeZone: 'Europe/Zurich' };

describe('previewing a template', () => {
  it('renders with sample values from the declared context and checks every link', () => {
    const preview = previewTemplate({ template, ...options });
    expect(preview).toMatchObject({ ok: true, subject: 'Hi sample firstname', problems: [], links: 5 });
    if (!preview.ok) return;
    expect(preview.text).toContain(`sample name: ${new Intl.NumberFormat('de-CH', { style: 'currency', currency: 'CHF' }).format(1234.5)}`);
    expect(preview.html).toContain(`${PREVIEW_BASE_URL}/u/preview-token`);
    expect(preview.sampled).toEqual(['profile.firstName', 'event.currency', 'event.products[].name', 'event.products[].price', 'event.products[].url', 'event.products[].imageUrl']);
  });

  it('names each link a mail client cannot follow, with its line', () => {
    const event = { currency: 'CHF', products: [{ name: 'Schuh', price: 10, url: 'http://shop.example/p/1', imageUrl: '/i/1.jpg' }] };
    const preview = previewTemplate({ template, ...options, profile: { firstName: 'Anna' }, event });
    expect(preview).toMatchObject({ ok: true, problems: [expect.objectContaining({ url: 'http://shop.example/p/1', problem: 'insecure', line: 1 }), expect.objectContaining({ url: '/i/1.jpg', problem: 'relative' })] });
    expect(previewTemplate({ template, ...options, allowHttp: true, profile: {}, event })).toMatchObject({ ok: true, problems: [expect.objectContaining({ problem: 'relative' })] });
  });

  it('reports a render failure instead of a half preview', () => {
    expect(previewTemplate({ template: { ...template, html: '{{> missing}}' }, ...options })).toMatchObject({ ok: false, reason: 'missing-partial' });
  });
});
