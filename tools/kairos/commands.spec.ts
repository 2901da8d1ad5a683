import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { previewFromFolder } from './preview';
import { runSimulation, SimulateOptions } from './simulate-command';

/** `kairos simulate` and `kairos preview` over the shop's example folder: files in, text and an HTML file out. */
describe('the kairos commands that need no broker', () => {
  const SHOP = join(__dirname, '..', '..', 'definitions', 'shop');
  const work = mkdtempSync(join(tmpdir(), 'kairos-commands-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function simulate(options: Partial<SimulateOptions> & Pick<SimulateOptions, 'journey' | 'eventsFile'>): { code: number; lines: string[] } {
    const lines: string[] = [];
    const code = runSimulation({ directory: SHOP, reportOnly: false, json: false, print: (text) => lines.push(text), progress: () => undefined, ...options });
    return { code, lines };
  }

  it('simulate: the abandoned cart reminds the customer who did not order, twice, and not the one who did', () => {
    const { code, lines } = simulate({ journey: 'abandoned-cart', eventsFile: join(SHOP, 'simulations', 'abandoned-cart.json') });
    expect(code).toBe(0);
    const sends = lines.filter((line) => line.includes(' SEND '));
    expect(sends.map((line) => line.split(' ')[2])).toEqual(['anna', 'anna']);
    expect(lines.join('\n')).toContain('abandoned-cart: 1 entries; sends: cart-reminder 2; capped 0; deferred 0; no consent 0; goals 0 (value 0)');
  });

  it('simulate: a profile model in the folder decides consent (single opt-in: a Subscribed customer is mailed)', () => {
    const folder = join(work, 'single-opt-in');
    cpSync(SHOP, folder, { recursive: true });
    const events = join(work, 'subscribed-only.json');
    const at = (hours: number) => new Date(Date.parse('2026-03-01T09:00:00Z') + hours * 3_600_000).toISOString();
    writeFileSync(
      events,
      JSON.stringify([
        { type: 'track', userId: 'dora', event: 'Subscribed', timestamp: at(0) },
        { type: 'track', userId: 'dora', event: 'Cart Updated', timestamp: at(1), properties: { cartId: 'c-9', products: [{ sku: 'X', name: 'Lamp', price: 10 }] } },
      ]),
    );
    const without = simulate({ journey: 'abandoned-cart', eventsFile: events, directory: folder });
    expect(without.lines.filter((line) => line.includes(' SEND '))).toEqual([]);
    writeFileSync(join(folder, 'profile-model.yaml'), 'kind: profile-model\nid: default\nconsent:\n  doubleOptIn: []\n');
    const single = simulate({ journey: 'abandoned-cart', eventsFile: events, directory: folder });
    expect(single.lines.filter((line) => line.includes(' SEND ')).length).toBeGreaterThanOrEqual(1);
  });

  it('simulate: an unknown journey or a missing file is a usage error naming it', () => {
    expect(() => simulate({ journey: 'no-such-journey', eventsFile: join(SHOP, 'simulations', 'abandoned-cart.json') })).toThrow(/no-such-journey/);
    expect(() => simulate({ journey: 'abandoned-cart', eventsFile: join(work, 'missing.json') })).toThrow(/cannot read .*missing\.json/);
  });

  it('preview: renders the cart reminder with sample products, writes the HTML and checks every link', () => {
    const outFile = join(work, 'cart.html');
    const result = previewFromFolder({ directory: SHOP, templateId: 'cart-reminder', outFile, allowHttp: false, locale: 'de-CH', timeZone: 'Europe/Zurich' });
    expect(result).toMatchObject({ ok: true, subject: 'You left something in your cart', problems: [], htmlFile: outFile });
    expect(readFileSync(outFile, 'utf8')).toMatch(/CHF.1(&#x27;|')234\.50/);
    expect(previewFromFolder({ directory: SHOP, templateId: 'no-such-template', allowHttp: false, locale: 'de-CH', timeZone: 'UTC' })).toMatchObject({ ok: false, stage: 'definitions', message: expect.stringContaining('no template "no-such-template"') });
  });
});
