import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime, { Email } from 'postal-mime';
import { DispatchRequestRecord, ProfileSnapshotRecord, SegmentChangeRecord, Topics } from '@kairos/contracts';
import { ConsumedRecord, readTopicToEnd } from '@kairos/kafka';
import { Pipeline, postUntilAccepted, readTopic, startPipeline } from '@kairos/testing';
import { writeDemoDefinitions } from './demo-definitions';
import { decodeEntities } from './demo-reader';
import { publishDefinitions } from './fault-suite';

const SECONDS_PER_DAY = 20; // as the demo: the abandoned cart's 4 h window lasts 3 s

/**
 * The example shop definitions through all five services, as a shop's customers meet them: events through the
 * collector, the double opt-in confirmed by following the link in the real mail, the abandoned-cart reminder listing
 * the cart's products in the SMTP sink — and no reminder when the order follows the cart in the same batch, or without
 * consent. Durations shortened as the demo shortens them; a ledger mail after everything else is the marker.
 */
describe('the shop journeys, end to end', () => {
  let pipeline: Pipeline;
  const definitions = mkdtempSync(join(tmpdir(), 'kairos-shop-journeys-'));
  const run = Date.now().toString(36);
  const email = (who: string) => `${who}-${run}@shop-journeys.example`;
  const userId = (who: string) => `shop-journeys-${run}-${who}`;
  let sequence = 0;
  const event = (who: string, fields: Record<string, unknown>) => ({ messageId: `shop-journeys-${run}-${++sequence}`, userId: userId(who), timestamp: new Date().toISOString(), ...fields });
  const track = (who: string, name: string, properties: Record<string, unknown> = {}) => event(who, { type: 'track', event: name, properties, context: { traits: { email: email(who) } } });
  const signUp = (who: string, optsIn: boolean) => [
    event(who, { type: 'identify', traits: { email: email(who), firstName: who }, context: { consent: { categoryPreferences: { marketing: optsIn, analytics: true } } } }),
    ...(optsIn ? [track(who, 'Subscribed', { channel: 'email', purpose: 'marketing', wording: 'Yes, send me news and offers by e-mail.', formVersion: 'signup-2026-10' })] : []),
  ];
  const products = [
    { product_id: 'wanderschuh', name: 'Wanderschuh Alpin', price: 1234.5, quantity: 1, url: 'https://shop.example/p/wanderschuh', imageUrl: 'https://shop.example/img/wanderschuh.jpg' },
    { product_id: 'socken', name: 'Socken', price: 19.9, quantity: 2, url: 'https://shop.example/p/socken', imageUrl: 'https://shop.example/img/socken.jpg' },
  ];
  const cart = (who: string) => track(who, 'Cart Updated', { cartId: `cart-${run}-${who}`, currency: 'CHF', products });

  /** The mails to `who` so far, parsed; waits until one with a subject starting with `subject` is among them. */
  async function mailsTo(who: string, subject?: string, timeoutMs = 90_000): Promise<Email[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const files = readdirSync(pipeline.mailDir).filter((file) => file.endsWith('.eml'));
      const mails = (await Promise.all(files.map((file) => PostalMime.parse(readFileSync(join(pipeline.mailDir, file)))))).filter((mail) => mail.to?.some((to) => to.address === email(who)));
      if (subject === undefined || mails.some((mail) => mail.subject?.startsWith(subject))) return mails;
      if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${email(who)} within ${timeoutMs} ms; it has: ${JSON.stringify(mails.map((mail) => mail.subject))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Follows the confirmation link of the double opt-in mail, as the customer's browser would. */
  async function confirm(who: string): Promise<void> {
    const [request] = (await mailsTo(who, 'Please confirm')).filter((mail) => mail.subject?.startsWith('Please confirm'));
    const link = [...(request.html ?? '').matchAll(/href="([^"]+)"/g)].map((match) => decodeEntities(match[1])).find((url) => /\/confirm\//.test(url));
    expect(link).toBeDefined();
    expect((await fetch(link!)).status).toBe(200);
  }

  /** Every record of a topic so far, parsed. */
  async function readToEnd<T>(topic: string): Promise<T[]> {
    const values: T[] = [];
    await readTopicToEnd(pipeline.kafka, topic, (records) => void values.push(...records.map((record) => JSON.parse(record.value?.toString() ?? '{}') as T)));
    return values;
  }

  /** Every dispatch request so far: recipient -> the templates (or webhook URLs) requested for the profile, in order. */
  async function requestedTemplates(): Promise<Map<string, string[]>> {
    const requests = await readToEnd<DispatchRequestRecord>(Topics.dispatchRequests.name);
    const recipients = new Map(requests.flatMap((request) => (request.channel === 'email' ? [[request.profileId, String(request.context.profile['email'])] as const] : [])));
    const templates = new Map<string, string[]>();
    for (const request of requests) {
      const to = recipients.get(request.profileId) ?? request.profileId;
      templates.set(to, [...(templates.get(to) ?? []), request.channel === 'email' ? request.templateId : request.url]);
    }
    return templates;
  }

  beforeAll(async () => {
    writeDemoDefinitions(join(__dirname, '..', '..', 'definitions', 'shop'), definitions, SECONDS_PER_DAY);
    cpSync(join(__dirname, '..', '..', 'definitions', 'ledger'), definitions, { recursive: true });
    // The win-back's mechanism on a scale a test can wait for: no order for 8 s rather than 90 days.
    writeFileSync(join(definitions, 'segments', 'quiet-customers.yaml'), 'kind: segment\nid: quiet-customers\nname: No order for 8 seconds\nrule:\n  all:\n    - performed: Order Completed\n    - notPerformed: Order Completed\n      within: 8s\n');
    // The 14-day reactivation's segment on the same scale (8 s after signing up); the shop's journey itself unchanged.
    writeFileSync(join(definitions, 'segments', 'new-without-order.yaml'), 'kind: segment\nid: new-without-order\nname: New customers without an order after 8 seconds\nrule:\n  all:\n    - trait: signedUpAt\n      moreThanAgo: 8s\n    - trait: signedUpAt\n      withinLast: 60s\n    - notPerformed: Order Completed\n');
    writeFileSync(join(definitions, 'journeys', 'quiet-win-back.yaml'), 'kind: journey\nid: quiet-win-back\nname: Win-back after 8 quiet seconds\ntrigger:\n  segment: quiet-customers\n  on: enter\nreentry:\n  allow: once\nsteps:\n  - send: win-back\n');
    pipeline = await startPipeline({
      partitions: 2,
      log: () => undefined,
      prepare: (kafka) => publishDefinitions(kafka, definitions),
      // The demo's guard rails, without the cap: the welcome mail and the reminder come seconds apart here.
      env: { TRIGGERS_MARKETING_EMAIL_CAP: 'off', TRIGGERS_QUIET_HOURS: 'off' },
    });
  }, 180_000);

  afterAll(async () => {
    await pipeline?.stop();
    rmSync(definitions, { recursive: true, force: true });
  }, 120_000);

  it('a confirmed subscriber who leaves a cart gets the reminder listing its products; an order right behind the cart, or no consent, gets none', async () => {
    await postUntilAccepted(pipeline, [...signUp('anna', true), ...signUp('ben', true), ...signUp('chris', false)]);
    // Double opt-in: consent is pending until the link in the confirmation mail is followed; then the welcome series
    // starts (entering email-subscribers), which shows the confirmation went round through dispatch and segmentation.
    await confirm('anna');
    await confirm('ben');
    await mailsTo('anna', 'Welcome to the shop');
    await mailsTo('ben', 'Welcome to the shop');

    // Ben orders right behind his cart update, in the same batch, before any wait could begin.
    await postUntilAccepted(pipeline, [cart('anna'), cart('chris'), cart('ben'), track('ben', 'Order Completed', { order_id: `order-${run}`, cartId: `cart-${run}-ben`, currency: 'CHF', revenue: 1274.3, products })]);
    const [reminder] = (await mailsTo('anna', 'You left something')).filter((mail) => mail.subject?.startsWith('You left something'));
    expect(reminder.text).toContain('Wanderschuh Alpin x 1: CHF');
    expect(reminder.text).toContain('https://shop.example/p/wanderschuh');
    expect(reminder.text).toMatch(/Socken x 2: CHF.19\.90/);
    expect(reminder.headers.find((header) => header.key === 'list-unsubscribe-post')?.value).toBe('List-Unsubscribe=One-Click');

    // Anna's window has ended, so Ben's and Chris's have too: a ledger mail to each after it marks that everything
    // before it was decided.
    await postUntilAccepted(pipeline, [track('ben', 'Ledger Ping', { n: 1 }), track('chris', 'Ledger Ping', { n: 2 })]);
    await mailsTo('ben', 'Ledger 1');
    await mailsTo('chris', 'Ledger 2');
    // Mails of one profile may reach the sink out of order; their requests may not: each profile's are in order on
    // one partition, so every request made before the ledger's is on the topic now.
    const templates = await requestedTemplates();
    expect(templates.get(email('anna'))?.filter((template) => template === 'cart-reminder')).toEqual(['cart-reminder']);
    expect(templates.get(email('ben'))).toEqual(expect.arrayContaining(['confirm-subscription', 'welcome-1', 'ledger']));
    expect(templates.get(email('ben'))).not.toContain('cart-reminder');
    // Without consent: no confirmation, no welcome, no reminder — only the transactional ledger mail.
    expect(templates.get(email('chris'))).toEqual(['ledger']);
  }, 240_000);

  it('lifetime spend crossing CHF 5,000, summed by segmentation from the orders, gets the thank-you once: not on later orders above it', async () => {
    const order = (revenue: number, currency = 'CHF') => track('anna', 'Order Completed', { order_id: `order-${run}-${++sequence}`, currency, revenue, products: [] });
    const vip = async () => ((await requestedTemplates()).get(email('anna')) ?? []).filter((template) => template === 'vip-thank-you');
    // CHF 3,000, and EUR 2,500 that does not count: below the line (a ledger mail after them marks them decided).
    await postUntilAccepted(pipeline, [order(3_000), order(2_500, 'EUR'), track('anna', 'Ledger Ping', { n: 3 })]);
    await mailsTo('anna', 'Ledger 3');
    expect(await vip()).toEqual([]);
    // CHF 2,000 more crosses it.
    await postUntilAccepted(pipeline, [order(2_000)]);
    await mailsTo('anna', 'Thank you, anna');
    // Above the line already (and a copy of an order under a new id, as a misbehaving shop might send): no new crossing.
    await postUntilAccepted(pipeline, [order(2_000), order(150), track('anna', 'Ledger Ping', { n: 4 })]);
    await mailsTo('anna', 'Ledger 4');
    expect(await vip()).toEqual(['vip-thank-you']);
    // The journey's updateProfile step marked her a VIP: fed back through ingestion and identity, addressed to her
    // profile by its id, and set by segmentation like any trait.
    const profileId = (await readToEnd<DispatchRequestRecord>(Topics.dispatchRequests.name)).find((request) => request.channel === 'email' && request.templateId === 'vip-thank-you' && request.context.profile['email'] === email('anna'))!.profileId;
    const tierOf = (record: ConsumedRecord) => {
      const snapshot = JSON.parse(record.value?.toString() ?? '{}') as ProfileSnapshotRecord;
      return snapshot.profileId === profileId ? (snapshot.state['traits'] as Record<string, { value: unknown }> | undefined)?.['tier']?.value : undefined;
    };
    const marked = await readTopic(pipeline.stack.kafkaBrokers, Topics.profileSnapshots.name, 1, 60_000, (record) => tierOf(record) === 'vip');
    expect(marked.length).toBeGreaterThan(0);
  }, 120_000);

  it('no order for a while is a segment entered by a timer, with no event at that moment, and starts the win-back journey', async () => {
    const emailRequests = async (who: string) => (await readToEnd<DispatchRequestRecord>(Topics.dispatchRequests.name)).filter((request) => request.channel === 'email' && request.context.profile['email'] === email(who));
    // Ben's only order came in the first test: 8 s later the segment's answer changes, with nothing arriving from him.
    const ben = (await emailRequests('ben'))[0].profileId;
    let entered: SegmentChangeRecord | undefined;
    for (const deadline = Date.now() + 60_000; !entered; await new Promise((resolve) => setTimeout(resolve, 500))) {
      if (Date.now() > deadline) throw new Error('Ben did not enter quiet-customers within 60 s');
      entered = (await readToEnd<SegmentChangeRecord>(Topics.segmentChanges.name)).find((change) => change.profileId === ben && change.segmentId === 'quiet-customers' && change.change === 'enter');
    }
    expect(entered.cause).toEqual({ kind: 'timer' });
    // A ledger mail to each after it: everything before it was decided. Chris never ordered, so never entered.
    await postUntilAccepted(pipeline, [track('ben', 'Ledger Ping', { n: 5 }), track('chris', 'Ledger Ping', { n: 6 })]);
    await mailsTo('ben', 'Ledger 5');
    await mailsTo('chris', 'Ledger 6');
    expect((await emailRequests('ben')).filter((request) => request.origin?.journeyId === 'quiet-win-back')).toHaveLength(1);
    // The shop's win-back mail, which quotes the last order's date: triggers gives it from the profile's state (Ben
    // sent no such trait), and it arrives rendered.
    const [winBack] = (await mailsTo('ben', 'We miss you')).filter((mail) => mail.subject?.startsWith('We miss you'));
    expect(winBack.text).toMatch(/Your last order was on \d/);
    expect((await emailRequests('chris')).map((request) => request.origin?.journeyId)).not.toContain('quiet-win-back');
  }, 120_000);

  it('a new subscriber without an order gets the reactivation mail when the window ends; one who ordered in it gets none', async () => {
    const journeysOf = async (who: string) => (await readToEnd<DispatchRequestRecord>(Topics.dispatchRequests.name)).filter((request) => request.channel === 'email' && request.context.profile['email'] === email(who)).map((request) => request.origin?.journeyId);
    await postUntilAccepted(pipeline, [...signUp('dana', true), ...signUp('emil', true)]);
    await confirm('dana');
    await confirm('emil');
    // Signed up now (the event sets signedUpAt); Emil orders at once, Dana does not.
    await postUntilAccepted(pipeline, [track('emil', 'Signed Up'), track('dana', 'Signed Up'), track('emil', 'Order Completed', { order_id: `order-${run}-emil`, currency: 'CHF', revenue: 80, products: [] })]);
    const [reactivation] = (await mailsTo('dana', 'Still looking, dana?')).filter((mail) => mail.subject?.startsWith('Still looking'));
    expect(reactivation.headers.find((header) => header.key === 'list-unsubscribe-post')?.value).toBe('List-Unsubscribe=One-Click');
    // Emil signed up first, so his window had ended too: a ledger mail to him after it marks his profile decided.
    await postUntilAccepted(pipeline, [track('emil', 'Ledger Ping', { n: 7 })]);
    await mailsTo('emil', 'Ledger 7');
    expect((await journeysOf('dana')).filter((journey) => journey === 'reactivation')).toHaveLength(1);
    expect(await journeysOf('emil')).not.toContain('reactivation');
  }, 120_000);
});
