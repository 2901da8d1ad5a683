import { validateDefinitions } from './validate-definitions';
import { parseDuration } from './duration';
import { SourceFile } from './definition-error';

const segment = (id: string, rule: string): SourceFile => ({ path: `segments/${id}.yaml`, text: `kind: segment\nid: ${id}\nrule:\n${rule}\n` });
const template = (id: string, context: string, html: string): SourceFile[] => [
  { path: `templates/${id}/template.yaml`, text: `kind: template\nid: ${id}\nchannel: email\npurpose: marketing\ncontext:\n${context}\n` },
  { path: `templates/${id}/subject.hbs`, text: 'Hello' },
  { path: `templates/${id}/html.hbs`, text: html },
];
const journey = (id: string, body: string): SourceFile => ({ path: `journeys/${id}.yaml`, text: `kind: journey\nid: ${id}\n${body}\n` });

const VALID_JOURNEY = 'trigger:\n  event: Signed Up\nsteps:\n  - send: hello';
const HELLO = template('hello', '  profile:\n    firstName: string', '<p>{{profile.firstName}}</p>');

function errorsOf(files: SourceFile[]) {
  return validateDefinitions(files).errors.map(({ file, line, column, code, message }) => ({ file, line, column, code, message }));
}

describe('validateDefinitions', () => {
  it('accepts a consistent folder and returns its definitions by key', () => {
    const report = validateDefinitions([...HELLO, journey('welcome', VALID_JOURNEY), { path: 'templates/partials/footer.hbs', text: 'bye' }]);
    expect(report.errors).toEqual([]);
    expect(report.definitions.map((definition) => definition.key)).toEqual(['journey/welcome', 'partial/footer', 'template/hello']);
    const hello = report.definitions.find((definition) => definition.key === 'template/hello')!;
    expect(hello.files.map((file) => file.path)).toEqual(['templates/hello/template.yaml', 'templates/hello/subject.hbs', 'templates/hello/html.hbs']);
  });

  it('accepts one profile model (id default), and says where a second one, another id or a bad duration is', () => {
    const model = (path: string, body: string): SourceFile => ({ path, text: `kind: profile-model\nid: default\n${body}\n` });
    const good = model('profile-model.yaml', 'consent:\n  doubleOptIn: []\n  events:\n    Newsletter Signup:\n      signal: grant\n      purposes: [email.marketing]\nlifecycle:\n  newFor: 14d\nengagement:\n  high: 20');
    const report = validateDefinitions([good]);
    expect(report.errors).toEqual([]);
    expect(report.definitions.map((definition) => definition.key)).toEqual(['profile-model/default']);
    expect(errorsOf([good, model('more/model.yaml', 'lifecycle:\n  newFor: 7d')])).toEqual([
      expect.objectContaining({ file: 'profile-model.yaml', line: 2, code: 'duplicate-id', message: expect.stringContaining('duplicate profile-model id "default": also defined at more/model.yaml:2') }),
    ]);
    expect(errorsOf([{ path: 'm.yaml', text: 'kind: profile-model\nid: shop\n' }])).toEqual([expect.objectContaining({ line: 2, column: 5, code: 'schema', message: expect.stringContaining('default') })]);
    expect(errorsOf([model('m.yaml', 'lifecycle:\n  lapsedAfter: half a year')])).toEqual([
      expect.objectContaining({ line: 4, column: 16, code: 'duration', message: expect.stringContaining('lifecycle.lapsedAfter: "half a year" is not a duration') }),
    ]);
    expect(errorsOf([model('m.yaml', 'consent:\n  events:\n    Opted In:\n      signal: yes\n      purposes: [email.marketing]')])).toEqual([
      expect.objectContaining({ line: 6, column: 15, code: 'schema', message: expect.stringContaining('grant, withdrawal, confirmation') }),
    ]);
  });

  it('reports YAML syntax errors where they are', () => {
    expect(errorsOf([{ path: 'segments/bad.yaml', text: 'kind: segment\nid: [unclosed\n' }])).toEqual([
      expect.objectContaining({ file: 'segments/bad.yaml', line: 3, column: 1, code: 'yaml' }),
    ]);
  });

  it('reports an unknown kind at the kind', () => {
    expect(errorsOf([{ path: 'x.yaml', text: 'kind: campaign\nid: x\n' }])).toEqual([
      { file: 'x.yaml', line: 1, column: 7, code: 'schema', message: 'kind: expected one of segment, journey, template, profile-model' },
    ]);
  });

  it('reports schema errors with the path, the position and what was expected — all of them at once', () => {
    const errors = errorsOf([...HELLO, journey('welcome', 'trigger:\n  event: Signed Up\nsteps:\n  - sned: hello\n  - send: hello\n    colour: red')]);
    expect(errors).toEqual([
      {
        file: 'journeys/welcome.yaml',
        line: 6,
        column: 5,
        code: 'schema',
        message: 'steps.0: expected one of: send, wait, waitForEvent, branch, split, updateProfile, webhook, exit',
      },
      { file: 'journeys/welcome.yaml', line: 8, column: 5, code: 'schema', message: 'steps.1: unknown property "colour"; expected send, label' },
    ]);
  });

  it('refuses a comparison with two operators (one would be dropped) or none, at the condition', () => {
    const errors = errorsOf([segment('adults', '  trait: age\n  atLeast: 18\n  atMost: 65'), segment('aged', '  trait: age'), segment('big', '  aggregate: {sum: revenue, of: Order Completed}\n  atLeast: 5000\n  lessThan: 9000')]);
    const expected = (subject: string) => `rule: expected ${subject} and one operator (two conditions make a range under all): equals, notEquals, lessThan, atMost, greaterThan, atLeast, in, contains, startsWith, exists, before, after, withinLast, moreThanAgo, withinNext, moreThanAhead`;
    expect(errors).toEqual([
      { file: 'segments/adults.yaml', line: 4, column: 3, code: 'schema', message: expected('trait') },
      { file: 'segments/aged.yaml', line: 4, column: 3, code: 'schema', message: expected('trait') },
      { file: 'segments/big.yaml', line: 4, column: 3, code: 'schema', message: expected('aggregate') },
    ]);
    expect(errorsOf([segment('adults', '  all:\n    - trait: age\n      atLeast: 18\n    - trait: age\n      atMost: 65')])).toEqual([]);
  });

  it("checks a journey's and a template's sender: mailboxes and a domain", () => {
    const sender = 'sender:\n  from: Outdoor-Team <outdoor@shop.example>\n  replyTo: service@shop.example\n  sendingDomain: mail.shop.example\n';
    expect(errorsOf([...HELLO, journey('welcome', `${sender}${VALID_JOURNEY}`)])).toEqual([]);
    const bad = 'sender:\n  from: Outdoor-Team outdoor@shop\n  sendingDomain: localhost\n';
    expect(errorsOf([...HELLO, journey('welcome', `${bad}${VALID_JOURNEY}`)])).toEqual([
      { file: 'journeys/welcome.yaml', line: 4, column: 9, code: 'schema', message: 'sender.from: expected an address (hello@shop.example) or a name with one ("Shop <hello@shop.example>"), not "Outdoor-Team outdoor@shop"' },
      { file: 'journeys/welcome.yaml', line: 5, column: 18, code: 'schema', message: 'sender.sendingDomain: expected a domain name, e.g. mail.shop.example, not "localhost"' },
    ]);
  });

  it('reports a missing required property at the object that lacks it', () => {
    expect(errorsOf([journey('welcome', 'trigger:\n  event: Signed Up')])).toEqual([
      { file: 'journeys/welcome.yaml', line: 1, column: 1, code: 'schema', message: 'the document: missing "steps"' },
    ]);
  });

  it('reports a duration that does not parse, also inside a union', () => {
    const errors = errorsOf([...HELLO, journey('welcome', 'trigger:\n  event: Signed Up\nsteps:\n  - wait: 3 days\n  - waitForEvent:\n      event: Order Completed\n      timeout: 1 week\n  - send: hello')]);
    expect(errors).toEqual([
      { file: 'journeys/welcome.yaml', line: 6, column: 11, code: 'duration', message: 'steps.0.wait: "3 days" is not a duration; expected a number and a unit, e.g. 30m, 24h, 14d, 90d or 1d12h' },
      { file: 'journeys/welcome.yaml', line: 9, column: 16, code: 'duration', message: 'steps.1.waitForEvent.timeout: "1 week" is not a duration; expected a number and a unit, e.g. 30m, 24h, 14d, 90d or 1d12h' },
    ]);
  });

  it('reports a duplicate id at the second definition, naming the first', () => {
    expect(errorsOf([segment('vip', '  trait: plan\n  equals: gold'), { ...segment('vip', '  trait: plan\n  equals: silver'), path: 'segments/other.yaml' }])).toEqual([
      {
        file: 'segments/vip.yaml',
        line: 2,
        column: 5,
        code: 'duplicate-id',
        message: 'duplicate segment id "vip": also defined at segments/other.yaml:2:5; expected ids unique per kind',
      },
    ]);
  });

  it('refuses eventProperty in a segment (it has no triggering event) and accepts it in a journey condition', () => {
    const [refused] = errorsOf([segment('big-carts', '  eventProperty: total\n  atLeast: 100')]);
    expect(refused).toMatchObject({ file: 'segments/big-carts.yaml', line: 4, column: 3 });
    expect(refused?.message).toContain("expected one of: trait, performed, notPerformed, aggregate, score, lifecycle, engagement, consent, inSegment, all, any, not (eventProperty is for a journey's conditions: a segment has no triggering event)");
    expect(errorsOf([...HELLO, journey('welcome', 'trigger:\n  event: Cart Updated\nsteps:\n  - branch:\n      if:\n        eventProperty: total\n        atLeast: 100\n      then:\n        - send: hello')])).toEqual([]);
  });

  it("refuses an automatic A/B winner without the journey's goal, or beside another split, at the winner", () => {
    const split = (winner: boolean) => `  - split:\n      variants:\n        - name: a\n          weight: 1\n          steps:\n            - send: hello\n        - name: b\n          weight: 1\n          steps: []\n${winner ? '      winner:\n        confidence: 0.95\n        minimumPerVariant: 500\n' : ''}`;
    const goal = 'goal:\n  event: Order Completed\n  within: 7d\n';
    expect(errorsOf([...HELLO, journey('ab', `trigger:\n  event: Cart Updated\n${goal}steps:\n${split(true)}`)])).toEqual([]);
    expect(errorsOf([...HELLO, journey('ab', `trigger:\n  event: Cart Updated\nsteps:\n${split(true)}`)])).toEqual([
      { file: 'journeys/ab.yaml', line: 16, column: 9, code: 'schema', message: "journey ab: a split's winner is the variant ahead on the journey's goal; expected a goal (event and within)" },
    ]);
    expect(errorsOf([...HELLO, journey('ab', `trigger:\n  event: Cart Updated\n${goal}steps:\n${split(false)}${split(true)}`)])).toEqual([
      { file: 'journeys/ab.yaml', line: 28, column: 9, code: 'schema', message: "journey ab: a split with a winner must be the journey's only split (2 found); an instance's conversion counts for the one variant it is in" },
    ]);
  });

  it('reports a journey naming a missing template or segment at the name', () => {
    const errors = errorsOf([...HELLO, journey('welcome', 'trigger:\n  segment: newcomers\nsteps:\n  - send: hello\n  - branch:\n      if:\n        inSegment: vips\n      then:\n        - send: goodbye')]);
    expect(errors).toEqual([
      { file: 'journeys/welcome.yaml', line: 4, column: 12, code: 'missing-reference', message: 'journey welcome names segment "newcomers", which does not exist; expected one of: (no segments defined)' },
      { file: 'journeys/welcome.yaml', line: 9, column: 20, code: 'missing-reference', message: 'journey welcome names segment "vips", which does not exist; expected one of: (no segments defined)' },
      { file: 'journeys/welcome.yaml', line: 11, column: 17, code: 'missing-reference', message: 'journey welcome names template "goodbye", which does not exist; expected one of: hello' },
    ]);
  });

  it('reports a segment that refers to itself through others, with the cycle', () => {
    const errors = errorsOf([
      segment('a', '  all:\n    - inSegment: b\n    - trait: plan\n      equals: gold'),
      segment('b', '  inSegment: c'),
      segment('c', '  not:\n    inSegment: a'),
      segment('d', '  inSegment: d'),
    ]);
    expect(errors).toEqual([
      { file: 'segments/c.yaml', line: 5, column: 16, code: 'segment-cycle', message: 'segment a refers to itself: a -> b -> c -> a; expected segments to refer to others without a cycle' },
      { file: 'segments/d.yaml', line: 4, column: 14, code: 'segment-cycle', message: 'segment d refers to itself: d -> d; expected segments to refer to others without a cycle' },
    ]);
  });

  it('reports template variables the declared context cannot provide, in templates and the partials they use', () => {
    const files = [
      ...template(
        'cart',
        '  event:\n    currency: string\n    products:\n      - name: string\n        price: number',
        '<ul>\n{{#each event.products}}<li>{{name}} {{formatMoney price ../event.currency}} {{sku}}</li>{{/each}}\n</ul>\n{{profile.firstName}} {{shout event.currency}}\n{{> footer}}',
      ),
      { path: 'partials/footer.hbs', text: '<a href="{{unsubscribeUrl}}">x</a> {{event.cartUrl}}' },
    ];
    expect(errorsOf(files)).toEqual([
      { file: 'partials/footer.hbs', line: 1, column: 38, code: 'template-variable', message: '{{event.cartUrl}}: the template\'s context cannot provide "event.cartUrl"; expected one of: currency, products (declare more under context: in the template\'s YAML)' },
      { file: 'templates/cart/html.hbs', line: 2, column: 80, code: 'template-variable', message: '{{sku}}: the template\'s context cannot provide "sku"; expected one of: name, price (declare more under context: in the template\'s YAML)' },
      { file: 'templates/cart/html.hbs', line: 4, column: 3, code: 'template-variable', message: '{{profile.firstName}}: the template\'s context cannot provide "profile.firstName" (declare it under context: in the template\'s YAML)' },
      expect.objectContaining({ file: 'templates/cart/html.hbs', line: 4, column: 25, code: 'template-variable', message: expect.stringMatching(/^\{\{shout …\}\}: unknown helper "shout"/) }),
    ]);
  });

  it('refuses triple braces and knows the names dispatch fills in', () => {
    expect(errorsOf(template('a', '  x: string', '{{journey.id}} {{step}} {{variant}} {{rawHtml "<b>"}}\n{{{x}}}'))).toEqual([
      { file: 'templates/a/html.hbs', line: 2, column: 1, code: 'template-variable', message: expect.stringMatching(/^\{\{\{…\}\}\} and \{\{& …\}\}: unescaped output is refused/) },
    ]);
  });

  it('reports a missing partial and Handlebars syntax errors', () => {
    expect(errorsOf(template('a', '  x: string', '{{> nope}}'))).toEqual([
      { file: 'templates/a/html.hbs', line: 1, column: 1, code: 'template-variable', message: '{{> nope}}: no partial "nope"; expected one of: (none defined)' },
    ]);
    expect(errorsOf(template('a', '  x: string', 'a\n{{#if x}}b'))).toEqual([
      expect.objectContaining({ file: 'templates/a/html.hbs', line: 2, column: 1, code: 'template-syntax' }),
    ]);
  });

  it('reports a template without its Handlebars files, and Handlebars files that belong to nothing', () => {
    expect(errorsOf([template('a', '  x: string', '')[0], { path: 'misc/extra.hbs', text: '' }])).toEqual([
      { file: 'misc/extra.hbs', line: 1, column: 1, code: 'stray-file', message: expect.stringMatching(/^belongs to no template/) },
      { file: 'templates/a/template.yaml', line: 1, column: 7, code: 'missing-file', message: 'template a: expected subject.hbs beside template.yaml' },
      { file: 'templates/a/template.yaml', line: 1, column: 7, code: 'missing-file', message: 'template a: expected html.hbs beside template.yaml' },
    ]);
  });
  it('compiles an html.mjml into the HTML it publishes, Handlebars passed through, and checks its variables at their lines', () => {
    const mjml = (text: string): SourceFile[] => [...HELLO.filter((file) => !file.path.endsWith('html.hbs')), { path: 'templates/hello/html.mjml', text }];
    const layout = '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-text>Hallo {{profile.firstName}}</mj-text>\n<mj-button href="{{unsubscribeUrl}}">Abmelden</mj-button>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>';
    const report = validateDefinitions(mjml(layout));
    expect(report.errors).toEqual([]);
    const hello = report.definitions.find((definition) => definition.key === 'template/hello')!;
    expect(hello.files.map((file) => file.path)).toEqual(['templates/hello/template.yaml', 'templates/hello/subject.hbs', 'templates/hello/html.mjml', 'templates/hello/html.mjml.html']);
    const html = (hello.body as { html: string }).html;
    expect(hello.files[3].text).toBe(html);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('Hallo {{profile.firstName}}</div>');
    expect(html).toMatch(/<a\s+href="\{\{unsubscribeUrl\}\}"[^>]*>\s*Abmelden\s*<\/a>/);
    expect(errorsOf(mjml(layout.replace('{{profile.firstName}}', '{{profile.lastName}}')))).toEqual([
      expect.objectContaining({ file: 'templates/hello/html.mjml', line: 5, code: 'template-variable', message: expect.stringContaining('profile.lastName') }),
    ]);
  });

  it('takes the HTML published beside an html.mjml as it is, without compiling it again', () => {
    const record = [...HELLO.filter((file) => !file.path.endsWith('html.hbs')), { path: 'templates/hello/html.mjml', text: '<mjml><mj-body></mj-body></mjml>' }, { path: 'templates/hello/html.mjml.html', text: '<p>as published {{profile.firstName}}</p>' }];
    const report = validateDefinitions(record);
    expect(report.errors).toEqual([]);
    expect((report.definitions.find((definition) => definition.key === 'template/hello')!.body as { html: string }).html).toBe('<p>as published {{profile.firstName}}</p>');
    // Checked like any template's HTML: a record whose HTML does not match its source.
    expect(errorsOf([...record.slice(0, -1), { path: 'templates/hello/html.mjml.html', text: '<p>{{profile.lastName}}</p>' }])).toEqual([
      expect.objectContaining({ file: 'templates/hello/html.mjml.html', line: 1, code: 'template-variable', message: expect.stringContaining('profile.lastName') }),
    ]);
    // Without its html.mjml it belongs to nothing.
    expect(errorsOf([...HELLO, { path: 'misc/html.mjml.html', text: '' }])).toEqual([expect.objectContaining({ file: 'misc/html.mjml.html', code: 'stray-file' })]);
  });

  it('reports Handlebars that MJML would drop or break, at its line, and an mj-include', () => {
    const WHERE = 'Handlebars between MJML elements goes inside <mj-raw> (text and partials inside <mj-text>); an mj-style inlined (inline="inline") loses it';
    const mjml = (body: string): SourceFile[] => [...HELLO.filter((file) => !file.path.endsWith('html.hbs')), { path: 'templates/hello/html.mjml', text: `<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n${body}\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>` }];
    // The first of the blocks and partials out of place is named (what follows it is out of step).
    expect(errorsOf(mjml('{{#if profile.firstName}}<mj-text>Hi</mj-text>{{/if}}\n<mj-text>{{> footer}}</mj-text>\n{{> footer}}'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 5, column: 1, code: 'mjml', message: `MJML dropped {{#if profile.firstName}}: ${WHERE}` },
    ]);
    expect(errorsOf(mjml('<mj-text>{{> footer}}</mj-text>\n{{> footer}}\n{{profile.firstName}}'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 6, column: 1, code: 'mjml', message: `MJML dropped {{> footer}}: ${WHERE}` },
    ]);
    expect(errorsOf(mjml('<mj-text>Hi</mj-text>\n{{profile.firstName}}'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 6, column: 1, code: 'mjml', message: `MJML dropped {{profile.firstName}}: ${WHERE}` },
    ]);
    // An else outside mj-raw: both branches would be sent to whoever passes the condition.
    expect(errorsOf(mjml('<mj-raw>{{#if profile.firstName}}</mj-raw>\n<mj-text>Hi</mj-text>\n{{else}}\n<mj-text>Hello</mj-text>\n<mj-raw>{{/if}}</mj-raw>'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 7, column: 1, code: 'mjml', message: `MJML dropped {{else}}: ${WHERE}` },
    ]);
    expect(errorsOf(mjml('<mj-raw>{{#if profile.firstName}}</mj-raw>\n<mj-text>Hi</mj-text>\n<mj-raw>{{else}}</mj-raw>\n<mj-text>Hello</mj-text>\n<mj-raw>{{/if}}</mj-raw>'))).toEqual([]);
    // An attribute MJML rewrites for Outlook: the mail would fail to render at every send.
    expect(errorsOf([...mjml('<mj-text>Hi</mj-text>').slice(0, -1), { path: 'templates/hello/html.mjml', text: '<mjml>\n<mj-body>\n<mj-section>\n<mj-column css-class="{{default profile.firstName \'x\'}}">\n<mj-text>Hi</mj-text>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>' }])).toEqual([
      expect.objectContaining({ line: 1, code: 'mjml', message: expect.stringMatching(/^MJML rewrote Handlebars into \{\{default-outlook profile\.firstName-outlook 'x'\}\}, which the source does not have/) }),
    ]);
    // A partial block kept inside an mj-text is fine, and so is a block opening over two lines.
    const footer = { path: 'templates/partials/footer.hbs', text: '<p>bye</p>' };
    expect(errorsOf([...mjml('<mj-text>\n{{#> footer}}\nHi\n{{/footer}}\n</mj-text>\n<mj-raw>{{#each\n  profile.firstName}}</mj-raw>\n<mj-text>x</mj-text>\n<mj-raw>{{/each}}</mj-raw>'), footer])).toEqual([]);
    expect(errorsOf(mjml('{{!-- <mj-text>old offer</mj-text> --}}'))).toEqual([expect.objectContaining({ line: 5, code: 'mjml', message: expect.stringMatching(/^MJML dropped \{\{!-- <mj-text>old offer/) })]);
    expect(errorsOf(mjml('<mj-raw>{{#if profile.firstName}}</mj-raw>\n<mj-text>{{#if profile.firstName}}hi{{/if}}</mj-text>\n{{/if}}'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 7, column: 1, code: 'mjml', message: `MJML dropped {{/if}}: ${WHERE}` },
    ]);
    // A comment that hides nothing of MJML may go (the docs' example starts with one).
    expect(errorsOf(mjml('{{! the products follow }}\n<mj-text>Hi</mj-text>'))).toEqual([]);
    expect(errorsOf(mjml('<mj-raw>{{#if profile.firstName}}</mj-raw>\n<mj-text>Hi</mj-text>\n<mj-raw>{{/if}}</mj-raw>'))).toEqual([]);
    expect(errorsOf(mjml('<mj-include path="./footer.mjml" />'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 5, column: 1, code: 'mjml', message: 'MJML <mj-include> is not supported: shared pieces are Handlebars partials (a folder named partials), published and versioned with the rest' },
    ]);
  });

  it('compiles the same source to the same HTML, also where MJML draws random ids (a carousel, a navbar)', () => {
    const layout = '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-carousel>\n<mj-carousel-image src="https://shop.example/a.jpg" />\n<mj-carousel-image src="https://shop.example/b.jpg" />\n</mj-carousel>\n<mj-navbar hamburger="hamburger">\n<mj-navbar-link href="https://shop.example/">Shop</mj-navbar-link>\n</mj-navbar>\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>';
    const html = () => (validateDefinitions([...HELLO.filter((file) => !file.path.endsWith('html.hbs')), { path: 'templates/hello/html.mjml', text: layout }]).definitions.find((definition) => definition.key === 'template/hello')!.body as { html: string }).html;
    const first = html();
    expect(first).toMatch(/mj-carousel-[0-9a-f]{16}/);
    expect(html()).toBe(first);
  });

  it('reports what MJML refuses at its line, a file that is not MJML, and an html.mjml beside an html.hbs', () => {
    const withHtml = (text: string): SourceFile[] => [...HELLO, { path: 'templates/hello/html.mjml', text }];
    const mjml = (text: string): SourceFile[] => withHtml(text).filter((file) => !file.path.endsWith('html.hbs'));
    expect(errorsOf(mjml('<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-txt>Hallo</mj-txt>\n<mj-image colour="red" />\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 5, column: 1, code: 'mjml', message: "MJML <mj-txt>: Element mj-txt doesn't exist or is not registered" },
      { file: 'templates/hello/html.mjml', line: 6, column: 1, code: 'mjml', message: 'MJML <mj-image>: Attribute colour is illegal' },
    ]);
    expect(errorsOf(mjml('<p>{{profile.firstName}}</p>'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 1, column: 1, code: 'mjml', message: 'MJML: Malformed MJML. Check that your structure is correct and enclosed in <mjml> tags.' },
    ]);
    expect(errorsOf(withHtml('<mjml><mj-body></mj-body></mjml>'))).toEqual([
      { file: 'templates/hello/html.mjml', line: 1, column: 1, code: 'conflicting-files', message: 'template hello: both html.mjml and html.hbs; expected one of them' },
    ]);
    expect(validateDefinitions(withHtml('<mjml><mj-body></mj-body></mjml>')).definitions.map((definition) => definition.key)).toEqual([]);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30m', 1_800_000],
    ['24h', 86_400_000],
    ['14d', 14 * 86_400_000],
    ['1d12h', 36 * 3_600_000],
    ['500ms', 500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '3 days', '14', 'd', '1.5h', '2mo'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());
});
