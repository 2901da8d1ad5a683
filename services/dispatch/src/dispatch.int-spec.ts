import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeadLetterHeaders, DeliveryOutcomeRecord, DispatchRequestRecord, EmailDispatchRequest, EVENT_SCHEMAS, SchemaIds, SchemaValidator, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { addressSubject, advanceDelivery, DeliveryState, receiveDelivery, signToken, verifyWebhook, WEBHOOK_DISPATCH_HEADER, WEBHOOK_SIGNATURE_HEADER } from '@kairos/dispatch-core';
import { ConsumedRecord, connectKafka, RecordProducer } from '@kairos/kafka';
import { freePort, RunningSmtpSink, startSmtpSink } from '@kairos/local-stack';
import { RunningService } from '@kairos/service-runtime';
import { MetricSample, metricValue, readTopic, serviceTestEnv, startServiceProcess, testStack, untilMetrics } from '@kairos/testing';
import { confirmationRequest } from './testing/confirmation-request';
import PostalMime, { Email } from 'postal-mime';
import { DataSource } from 'typeorm';
import { DeliveriesRepository } from './delivery/deliveries.repository';
import { outcomeRecord, stateRecords, subjectOf } from './delivery/delivery-records';
import { startDispatch } from './main';
import { OutboxRelay } from './outbox/outbox-relay';

const KEY = { id: 'k1', secret: 'dispatch-int-spec-secret-of-32-bytes-or-more' };
const OTHER_KEY = { id: 'k1', secret: 'another-secret-that-is-32-bytes-long-too!!' };
const WEBHOOK_SECRET = 'webhook-int-spec-secret-of-32-bytes-or-more';
/** A secret a webhook step names (the shop's VIP_WEBHOOK_SECRET, say), set in dispatch's environment. */
const NAMED_SECRET = 'named-webhook-secret-of-the-crm-32-bytes+';
const json = <T>(record: ConsumedRecord): T => JSON.parse(record.value?.toString() ?? 'null') as T;

describe('dispatch against real Kafka, PostgreSQL and an SMTP sink', () => {
  const { kafkaBrokers } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'dispatch-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  const run = randomUUID().slice(0, 8);
  const groupId = `dispatch-${run}`;
  const mailDir = mkdtempSync(join(tmpdir(), 'kairos-dispatch-sink-'));
  let sink: RunningSmtpSink;
  let service: RunningService;
  let baseUrl = '';
  let metricsUrl = '';
  let healthPort = '';
  let sequence = 0;
  let env = {} as Awaited<ReturnType<typeof serviceTestEnv>>;

  beforeAll(async () => {
    // The test's own sink (the harness's, started in-process), so the outage test can stop and restart its SMTP port.
    sink = await startSmtpSink({ smtpPort: await freePort(), httpPort: await freePort(), mailDir, closeTimeoutMs: 500 });
    const release = await publishFolder(kafka, resolve(__dirname, '../../../definitions/shop'), { user: 'dispatch-int-spec', host: 'test', tool: 'jest' }, { write: true });
    expect(release.errors).toEqual([]);
    await producer.connect();
    env = await serviceTestEnv({
      DATABASE_SCHEMA: `dispatch_${run}`,
      KAFKA_GROUP_ID: groupId,
      SMTP_URL: sink.smtpUrl,
      DISPATCH_SIGNING_KEYS: JSON.stringify({ current: KEY, previous: [] }),
      DISPATCH_RETRY_INITIAL_MS: '500',
      DISPATCH_RETRY_MAX_MS: '4000',
      DISPATCH_RETRY_MAX_ATTEMPTS: '8',
      DISPATCH_SOFT_BOUNCE_LIMIT: '2',
      WEBHOOK_SECRET,
      CRM_WEBHOOK_SECRET: NAMED_SECRET,
      WEBHOOK_TIMEOUT_MS: '2000',
      // This test is the TLS proxy in front of dispatch: the visitor's address comes in X-Forwarded-For.
      HTTP_TRUST_PROXY: '127.0.0.1',
    });
    baseUrl = `http://127.0.0.1:${env.DISPATCH_PORT}`;
    healthPort = env.HEALTH_PORT;
    metricsUrl = `http://127.0.0.1:${healthPort}/metrics`;
    service = await startDispatch(env);
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await producer.disconnect();
    await sink?.stop();
    rmSync(mailDir, { recursive: true, force: true });
  });

  function id(name: string): string {
    sequence += 1;
    return `${run}-${name}-${sequence}`;
  }

  function cartRequest(overrides: { profile?: Record<string, unknown>; to?: string; dispatchId?: string; profileId?: string; consentAt?: number } = {}): EmailDispatchRequest {
    const profileId = overrides.profileId ?? `profile-${id('p')}`;
    return {
      dispatchId: overrides.dispatchId ?? id('cart'),
      profileId,
      requestedAt: new Date().toISOString(),
      origin: { journeyId: 'abandoned-cart', journeyVersion: 1, instanceId: `i-${profileId}`, stepId: 'first reminder' },
      reason: { trigger: 'abandoned-cart', consent: { channel: 'email', purpose: 'marketing', status: 'granted', proof: { at: overrides.consentAt ?? Date.now() - 60_000 } } },
      channel: 'email',
      purpose: 'marketing',
      templateId: 'cart-reminder',
      ...(overrides.to ? { to: overrides.to } : {}),
      context: {
        profile: { firstName: 'Anna', email: `anna-${profileId}@example.ch`, userId: `user-${profileId}`, ...overrides.profile },
        event: {
          name: 'Cart Updated',
          properties: {
            cartId: `cart-${profileId}`,
            currency: 'CHF',
            products: [
              { name: 'Wanderschuh Alpin', price: 1234.5, quantity: 1, url: 'https://shop.example/p/wanderschuh', imageUrl: 'https://shop.example/i/wanderschuh.jpg' },
              { name: 'Socken', price: 19.9, quantity: 2, url: 'https://shop.example/p/socken', imageUrl: 'https://shop.example/i/socken.jpg' },
            ],
          },
        },
        journey: { id: 'abandoned-cart', step: 'first reminder' },
        locale: 'de-CH',
        timeZone: 'Europe/Zurich',
      },
    };
  }

  const confirmRequest = (profileId: string, email: string): EmailDispatchRequest => confirmationRequest(id('confirm'), profileId, email);

  async function produce(...requests: DispatchRequestRecord[]): Promise<void> {
    for (const request of requests) expect(validator.validate(SchemaIds.dispatchRequest, request)).toMatchObject({ valid: true });
    await producer.send(Topics.dispatchRequests.name, requests.map((request) => ({ key: request.profileId, value: JSON.stringify(request) })));
  }

  /** Mail the sink received for an address, parsed by a real MIME parser; waits until `count` arrived (or 30 s). */
  async function mailTo(address: string, count: number, timeoutMs = 30_000): Promise<Email[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const listing = (await (await fetch(`${sink.inboxUrl}?to=${encodeURIComponent(address)}`)).json()) as { messages: Array<{ id: string }> };
      if (listing.messages.length >= count || Date.now() > deadline) {
        return Promise.all(listing.messages.map(async (message) => PostalMime.parse(Buffer.from(await (await fetch(`${sink.inboxUrl}/${message.id}/raw`)).arrayBuffer()))));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A marketing mail that arrived, with its address and the one-click unsubscribe URL of its List-Unsubscribe header. */
  async function firstMarketingMail(): Promise<{ first: EmailDispatchRequest; address: string; mail: Email; oneClick: string }> {
    const first = cartRequest();
    const address = first.context.profile['email'] as string;
    await produce(first);
    const [mail] = await mailTo(address, 1);
    return { first, address, mail, oneClick: (header(mail, 'List-Unsubscribe') ?? '').slice(1, -1) };
  }

  async function outcomes(dispatchId: string, count: number, timeoutMs = 30_000): Promise<DeliveryOutcomeRecord[]> {
    const records = await readTopic(kafkaBrokers, Topics.deliveryOutcomes.name, count, timeoutMs, (record) => json<DeliveryOutcomeRecord>(record).dispatchId === dispatchId);
    const list = records.map((record) => json<DeliveryOutcomeRecord>(record));
    for (const outcome of list) expect(validator.validate(SchemaIds.deliveryOutcome, outcome)).toMatchObject({ valid: true });
    return list;
  }

  const header = (mail: Email, name: string) => mail.headers.find((entry) => entry.key === name.toLowerCase())?.value;
  const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((match) => match[1].replace(/&amp;/g, '&').replace(/&#x3D;/g, '='));

  it('an abandoned-cart request becomes one mail with the cart products, CHF prices in de-CH, working tracked links and the RFC 8058 one-click headers', async () => {
    const request = cartRequest();
    await produce(request);
    const [mail] = await mailTo(request.context.profile['email'] as string, 1);
    expect(mail.subject).toBe('You left something in your cart');
    expect(mail.messageId).toBe(`<${request.dispatchId}@kairos.local>`);
    expect(mail.from).toMatchObject({ name: 'Shop', address: 'hello@shop.example' });
    expect(mail.replyTo).toEqual([expect.objectContaining({ name: 'Kundendienst', address: 'service@shop.example' })]);
    const chf = (amount: number) => new Intl.NumberFormat('de-CH', { style: 'currency', currency: 'CHF' }).format(amount);
    expect(mail.text).toContain(`- Wanderschuh Alpin x 1: ${chf(1234.5)} https://shop.example/p/wanderschuh`);
    expect(mail.text).toContain(`- Socken x 2: ${chf(19.9)}`);
    expect(chf(1234.5)).toMatch(/^CHF.1.234\.50$/);
    expect(mail.html).toContain('Wanderschuh Alpin');
    // The MJML layout: the product's image, linked to the product, beside its name.
    expect(mail.html).toMatch(/<img\s+alt="Wanderschuh Alpin" src="https:\/\/shop\.example\/i\/wanderschuh\.jpg"/);

    const listUnsubscribe = header(mail, 'List-Unsubscribe') ?? '';
    expect(listUnsubscribe).toMatch(new RegExp(`^<${baseUrl}/u/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+>$`));
    expect(header(mail, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');

    // Every product link (its image and its name) is a signed click link that redirects to that product; the
    // unsubscribe link is direct.
    const links = hrefs(mail.html ?? '');
    const clicks = links.filter((link) => link.startsWith(`${baseUrl}/c/`));
    expect(clicks).toHaveLength(4);
    const answer = await fetch(clicks[0], { redirect: 'manual' });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('https://shop.example/p/wanderschuh');
    expect(links).toContain(listUnsubscribe.slice(1, -1));

    const facts = await outcomes(request.dispatchId, 2);
    expect(facts.map((fact) => fact.kind).sort()).toEqual(expect.arrayContaining(['queued', 'sent']));
    expect(facts.find((fact) => fact.kind === 'sent')).toMatchObject({ profileId: request.profileId, templateId: 'cart-reminder', origin: request.origin, detail: { messageId: mail.messageId } });
  });

  it("a journey's sender overrides the template's From and sending domain, and keeps its Reply-To", async () => {
    const request: EmailDispatchRequest = { ...cartRequest(), sender: { from: 'Outdoor-Team <outdoor@shop.example>', sendingDomain: 'mail.shop.example' } };
    await produce(request);
    const [mail] = await mailTo(request.context.profile['email'] as string, 1);
    expect(mail.from).toMatchObject({ name: 'Outdoor-Team', address: 'outdoor@shop.example' });
    expect(mail.messageId).toBe(`<${request.dispatchId}@mail.shop.example>`);
    expect(mail.replyTo).toEqual([expect.objectContaining({ address: 'service@shop.example' })]);
  });

  it('the one-click POST unsubscribes at once: a marketing request decided before it (consent granted earlier) sends nothing, a later transactional mail still arrives', async () => {
    const { first, address, mail, oneClick } = await firstMarketingMail();
    const posted = await fetch(oneClick, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(posted.status).toBe(200);

    // Triggers decided this one before the unsubscribe travelled the pipeline: its consent evidence is older.
    const queued = cartRequest({ profileId: first.profileId, profile: { email: address }, consentAt: Date.now() - 30_000 });
    const marker = confirmRequest(first.profileId, address);
    await produce(queued, marker);
    const mails = await mailTo(address, 2);
    expect(mails.map((received) => received.messageId).sort()).toEqual([mail.messageId, `<${marker.dispatchId}@kairos.local>`].sort());
    expect((await outcomes(queued.dispatchId, 2)).find((fact) => fact.kind === 'suppressed')).toMatchObject({ detail: { reason: 'unsubscribed' } });
    expect((await outcomes(first.dispatchId, 3)).find((fact) => fact.kind === 'unsubscribed')).toMatchObject({ detail: { method: 'one-click' } });

    // The visible link shows the confirmation page, with a way back.
    const page = await fetch(oneClick);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Subscribe again');

    // Subscribing again from that page lifts the unsubscribe at once (a marketing mail decided after it goes out) and
    // goes back into the pipeline as a Subscribed event for marketing: under double opt-in, pending until confirmed.
    const resubscribed = await fetch(oneClick.replace(/\/u\/([^/?]+).*$/, '/u/$1/resubscribe'), { method: 'POST' });
    expect(resubscribed.status).toBe(200);
    expect(await resubscribed.text()).toContain('subscribed again');
    const [event] = await readTopic(kafkaBrokers, Topics.internal.name, 1, 30_000, (record) => json<{ messageId?: string }>(record).messageId === `kairos-dispatch:${first.dispatchId}:resubscribed`);
    expect(json(event)).toMatchObject({ type: 'track', event: 'Subscribed', properties: { purpose: 'marketing', dispatchId: first.dispatchId }, context: { kairos: { profileId: first.profileId } } });
    const again = cartRequest({ profileId: first.profileId, profile: { email: address } });
    await produce(again);
    expect(await mailTo(address, 3)).toHaveLength(3);
  });

  it('a marketing mail already waiting to retry a 4xx when the one-click POST arrives is suppressed at its next attempt; other mail goes out while it waits', async () => {
    const { first, oneClick } = await firstMarketingMail();

    // The next reminder meets a relay that answers 451 for its recipient: it waits in `retrying`, on a durable timer.
    const waiting = cartRequest({ profileId: first.profileId, to: `tempfail-${id('t')}@example.ch` });
    await produce(waiting);
    const retried = (await outcomes(waiting.dispatchId, 2)).find((fact) => fact.kind === 'retried');
    expect(retried).toMatchObject({ detail: { attempt: 1, code: 451 } });
    // It blocks nothing: a mail for someone else goes out meanwhile.
    const other = confirmRequest(`profile-${id('other')}`, `while-retrying-${run}@example.ch`);
    await produce(other);
    expect(await mailTo(`while-retrying-${run}@example.ch`, 1)).toHaveLength(1);

    const posted = await fetch(oneClick, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(posted.status).toBe(200);
    // Each attempt checks again; the next finds the withdrawal and makes no attempt at all.
    const [suppressed] = await readTopic(kafkaBrokers, Topics.deliveryOutcomes.name, 1, 30_000, (record) => {
      const outcome = json<DeliveryOutcomeRecord>(record);
      return outcome.dispatchId === waiting.dispatchId && outcome.kind === 'suppressed';
    });
    expect(json<DeliveryOutcomeRecord>(suppressed).detail).toEqual({ reason: 'unsubscribed' });
    const row = await service.app.get(DeliveriesRepository).find(waiting.dispatchId);
    expect(row).toMatchObject({ status: 'suppressed' });
  });

  it('a tampered, forged or malformed token is refused with a 4xx, and a click token never redirects elsewhere', async () => {
    const request = cartRequest();
    await produce(request);
    const [mail] = await mailTo(request.context.profile['email'] as string, 1);
    const oneClick = (header(mail, 'List-Unsubscribe') ?? '').slice(1, -1);
    const token = oneClick.slice(oneClick.lastIndexOf('/') + 1);
    const [keyId, claims, signature] = token.split('.');
    const tampered = `${keyId}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(claims, 'base64url').toString()), p: 'someone-else' })).toString('base64url')}.${signature}`;
    const forged = signToken({ purpose: 'unsubscribe', profileId: request.profileId, dispatchId: request.dispatchId }, { current: OTHER_KEY, previous: [] });

    expect((await fetch(`${baseUrl}/u/${tampered}`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`${baseUrl}/u/${forged}`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`${baseUrl}/u/not-a-token`, { method: 'POST' })).status).toBe(400);
    // An open token is not an unsubscribe token.
    const pixel = /src="([^"]*\/o\/[^"]+)"/.exec(mail.html ?? '')?.[1] ?? '';
    expect((await fetch(`${baseUrl}/u/${pixel.slice(pixel.lastIndexOf('/') + 1)}`, { method: 'POST' })).status).toBe(403);
    // A real click token with another target: no open redirect.
    const click = hrefs(mail.html ?? '').find((link) => link.includes('/c/')) ?? '';
    const redirected = await fetch(click.replace(/\?u=.*$/, `?u=${encodeURIComponent('https://evil.example/')}`), { redirect: 'manual' });
    expect(redirected.status).toBe(403);
    expect(redirected.headers.get('location')).toBeNull();

    // Nothing was unsubscribed: the next marketing mail to the profile arrives.
    const next = cartRequest({ profileId: request.profileId, profile: { email: request.context.profile['email'] } });
    await produce(next);
    expect(await mailTo(request.context.profile['email'] as string, 2)).toHaveLength(2);
  });

  it('an XSS string in a trait arrives escaped, and CRLF in a trait cannot inject a header', async () => {
    const request = cartRequest({ profile: { firstName: '<script>alert("x")</script>\r\nBcc: victim@evil.example' } });
    const address = request.context.profile['email'] as string;
    await produce(request);
    const [mail] = await mailTo(address, 1);
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(mail.bcc ?? []).toEqual([]);
    expect(mail.headers.filter((entry) => entry.key === 'bcc')).toEqual([]);
    expect(mail.to?.map((to) => to.address)).toEqual([address]);
    const listing = (await (await fetch(`${sink.inboxUrl}?to=victim@evil.example`)).json()) as { count: number };
    expect(listing.count).toBe(0);
  });

  it('the same request delivered three times gives one mail', async () => {
    const request = cartRequest();
    await produce(request);
    await produce(request);
    await produce(request);
    const marker = confirmRequest(request.profileId, request.context.profile['email'] as string);
    await produce(marker);
    const mails = await mailTo(request.context.profile['email'] as string, 2);
    expect(mails.map((mail) => mail.messageId).sort()).toEqual([`<${request.dispatchId}@kairos.local>`, `<${marker.dispatchId}@kairos.local>`].sort());
    const facts = await outcomes(request.dispatchId, 2);
    expect(facts.filter((fact) => fact.kind === 'sent')).toHaveLength(1);
  });

  it('a receive whose answer was lost (the rows written, claimed by this instance) sends at once, not after the lease, and once', async () => {
    // The fault injected is only the loss of the answer: the real statement runs against the real database first.
    const deliveries = service.app.get(DeliveriesRepository);
    const receive = deliveries.receive.bind(deliveries);
    const lost = jest.spyOn(deliveries, 'receive').mockImplementationOnce(async (...args) => {
      await receive(...args);
      throw new Error('Connection terminated unexpectedly');
    });
    try {
      const request = cartRequest();
      await produce(request);
      // The lease is DISPATCH_LEASE_SECONDS (120 s): a mail within 20 s was released, not recovered by the lease.
      const mails = await mailTo(request.context.profile['email'] as string, 1, 20_000);
      expect(lost).toHaveBeenCalled();
      expect(mails.map((mail) => mail.messageId)).toEqual([`<${request.dispatchId}@kairos.local>`]);
      const marker = confirmRequest(request.profileId, request.context.profile['email'] as string);
      await produce(marker);
      expect(await mailTo(request.context.profile['email'] as string, 2)).toHaveLength(2);
      expect((await outcomes(request.dispatchId, 2)).filter((fact) => fact.kind === 'sent')).toHaveLength(1);
    } finally {
      lost.mockRestore();
    }
  });

  it("grouped transitions are fenced each on its own: of two for one row in a group, only the claim's holder is written, with its outcomes", async () => {
    // A delivery whose claim ran out can still submit a write while the claim that took the row over submits its own;
    // both may land in one grouped statement. The row is received here under a claim of the test's, leased for 10
    // minutes, so the service's own loop leaves it alone.
    const deliveries = service.app.get(DeliveriesRepository);
    const request = cartRequest();
    const { state } = receiveDelivery();
    const now = new Date();
    const claim = { by: `test-${id('fence')}/2`, count: 1, leaseMs: 600_000 };
    const received = await deliveries.receive([request], [state], new Map([[request.dispatchId, outcomeRecord(subjectOf(request), 'queued', now)]]), claim);
    expect(received).toEqual([{ dispatchId: request.dispatchId, claimed: true }]);
    const advanced = advanceDelivery(state, { type: 'suppressed', reason: 'no-consent' }, { now, random: Math.random, policy: { maxAttempts: 3, initialDelayMs: 1_000, maxDelayMs: 10_000 } });
    if (!advanced.ok) throw new Error(advanced.message);
    const suppressed = advanced.state;
    const stale = { ...suppressed, status: 'failed', reason: 'stale' } as unknown as DeliveryState;
    const written = await deliveries.transitions([
      { dispatchId: request.dispatchId, from: 'received', claimedBy: `test-${id('fence')}/1`, state: stale, dueAt: null, outbox: [outcomeRecord(subjectOf(request), 'failed', now, { reason: 'stale claim' })] },
      { dispatchId: request.dispatchId, from: 'received', claimedBy: claim.by, state: suppressed, dueAt: null, outbox: stateRecords(request, suppressed, now, 'unused-dlq', 'kairos-dispatch') },
    ]);
    expect(written).toEqual([false, true]);
    expect((await deliveries.find(request.dispatchId))?.status).toBe('suppressed');
    // The stale write's outcome would have been published before the suppression (same key, inserted first).
    expect((await outcomes(request.dispatchId, 2)).map((fact) => fact.kind)).toEqual(['queued', 'suppressed']);
  });

  it('a claim whose answer was lost (the rows taken under its name) gives them back at once, not after the lease', async () => {
    // A 451 makes the request wait in `retrying`; its next attempt comes through the claim, whose answer is lost
    // once, after the real statement ran.
    const deliveries = service.app.get(DeliveriesRepository);
    const claim = deliveries.claim.bind(deliveries);
    const request = cartRequest({ to: `tempfail-${id('claim')}@example.ch` });
    let lostWith: string[] | undefined;
    const lost = jest.spyOn(deliveries, 'claim').mockImplementation(async (...args) => {
      const rows = await claim(...args);
      if (lostWith || !rows.some((row) => row.dispatchId === request.dispatchId)) return rows;
      lostWith = rows.map((row) => row.dispatchId);
      throw new Error('Connection terminated unexpectedly');
    });
    try {
      await produce(request);
      // The lease is DISPATCH_LEASE_SECONDS (120 s): a second attempt within 20 s came from the rows given back.
      // The row goes on retrying (the relay keeps answering 451): later outcomes may come in the same read.
      const facts = (await outcomes(request.dispatchId, 3, 20_000)).slice(0, 3);
      expect(lostWith).toContain(request.dispatchId);
      expect(facts.map((fact) => [fact.kind, fact.detail?.['attempt']])).toEqual([
        ['queued', undefined],
        ['retried', 1],
        ['retried', 2],
      ]);
    } finally {
      lost.mockRestore();
    }
  });

  it('a 5xx recipient fails at once and goes to the dead-letter topic with its history', async () => {
    const request = cartRequest({ to: `reject-${run}@example.ch` });
    await produce(request);
    const [dead] = await readTopic(kafkaBrokers, `kairos.dlq.${groupId}.v1`, 1, 30_000, (record) => json<DispatchRequestRecord>(record).dispatchId === request.dispatchId);
    expect(dead.headers[DeadLetterHeaders.reason]).toBe('rejected');
    expect(dead.headers[DeadLetterHeaders.detail]).toMatch(/^smtp-permanent: 550/);
    expect(JSON.parse(dead.headers['kairos-dispatch-history'] ?? '[]')).toEqual([expect.objectContaining({ attempt: 1, result: 'permanent', code: 550 })]);
    expect((await outcomes(request.dispatchId, 2)).find((fact) => fact.kind === 'failed')).toMatchObject({ detail: { reason: 'smtp-permanent', attempts: 1 } });
  });

  it('an outbox row the broker refuses for its own fault (over message.max.bytes) is set aside with the answer; the rows around it are published', async () => {
    // A dead letter carries the request and its history: a request near the broker's limit gives one the broker
    // refuses. Written here straight into the outbox, between two ordinary ones, as the state writes would.
    const dataSource = service.app.get(DataSource);
    const topic = `kairos.dlq.${groupId}.v1`;
    const key = `profile-${id('outbox')}`;
    const deadLetter = (n: number, padding = '') => JSON.stringify({ dispatchId: `${key}-${n}`, profileId: key, padding });
    const huge = deadLetter(2, 'x'.repeat(2 * 1024 * 1024));
    await dataSource.query('INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3), ($1, $2, $4), ($1, $2, $5)', [topic, key, deadLetter(1), huge, deadLetter(3)]);
    service.app.get(OutboxRelay).kick();
    const published = await readTopic(kafkaBrokers, topic, 2, 30_000, (record) => record.key?.toString() === key);
    expect(published.map((record) => json<{ dispatchId: string }>(record).dispatchId)).toEqual([`${key}-1`, `${key}-3`]);
    const refused = (await dataSource.query('SELECT topic, value, error FROM outbox_refused WHERE key = $1', [key])) as Array<{ topic: string; value: string; error: string }>;
    expect(refused).toEqual([{ topic, value: huge, error: expect.stringMatching(/^MESSAGE_TOO_LARGE: KafkaJSProtocolError: The request included a message larger than the max message size the server will accept$/) }]);
    expect(await dataSource.query('SELECT count(*)::int AS n FROM outbox WHERE key = $1', [key])).toEqual([{ n: 0 }]);
  });

  it('a 4xx recipient is retried with back-off until DISPATCH_RETRY_MAX_ATTEMPTS, then goes to the dead-letter topic with its history', async () => {
    const request = cartRequest({ to: `tempfail-${id('dlq')}@example.ch` });
    await produce(request);
    // Eight attempts 0.5, 1, 2, then 4 s apart at most (with jitter): within the minute.
    const [dead] = await readTopic(kafkaBrokers, `kairos.dlq.${groupId}.v1`, 1, 60_000, (record) => json<DispatchRequestRecord>(record).dispatchId === request.dispatchId);
    expect(dead.headers[DeadLetterHeaders.reason]).toBe('rejected');
    expect(dead.headers[DeadLetterHeaders.detail]).toMatch(/^retries-exhausted: 8 attempts; last: /);
    const history = JSON.parse(dead.headers['kairos-dispatch-history'] ?? '[]') as Array<{ attempt: number; result: string; code?: number; at: string }>;
    expect(history.map(({ attempt, result, code }) => ({ attempt, result, code }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => ({ attempt, result: 'temporary', code: 451 })));
    // Backed off: after the n-th failure between half and all of min(4 s, 0.5 s × 2^(n-1)) ("equal jitter").
    const waits = history.slice(1).map((entry, index) => Date.parse(entry.at) - Date.parse(history[index].at));
    [250, 500, 1_000, 2_000, 2_000, 2_000, 2_000].forEach((least, index) => expect(waits[index]).toBeGreaterThanOrEqual(least));
    const facts = (await outcomes(request.dispatchId, 9)).slice(0, 9);
    expect(facts.map((fact) => fact.kind)).toEqual(['queued', ...Array<string>(7).fill('retried'), 'failed']);
    expect(facts[8]).toMatchObject({ detail: { reason: 'retries-exhausted', attempts: 8 } });
  });

  it('a hard bounce suppresses the address: the next mail to it, even transactional, is recorded as suppressed', async () => {
    const request = cartRequest();
    const address = request.context.profile['email'] as string;
    await produce(request);
    await mailTo(address, 1);
    const bounced = await fetch(`${baseUrl}/bounces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'hard-bounce', recipient: address, dispatchId: request.dispatchId, status: '5.1.1', diagnostic: 'user unknown' }),
    });
    expect(bounced.status).toBe(200);
    expect(await bounced.json()).toEqual({ dispatchId: request.dispatchId, suppressed: true });

    const next = confirmRequest(request.profileId, address);
    const marker = confirmRequest(`profile-${id('marker')}`, `marker-${run}-${sequence}@example.ch`);
    await produce(next, marker);
    await mailTo(marker.context.profile['email'] as string, 1);
    expect((await outcomes(next.dispatchId, 2)).find((fact) => fact.kind === 'suppressed')).toMatchObject({ detail: { reason: 'hard-bounce' } });
    expect(await mailTo(address, 1, 0)).toHaveLength(1);
    expect((await outcomes(request.dispatchId, 3)).find((fact) => fact.kind === 'bounced')).toMatchObject({ detail: { bounceType: 'hard', suppressed: true } });
  });

  it('a bounce mail (RFC 3464) and an abuse report (RFC 5965) posted as they came: suppressed by the returned Message-ID', async () => {
    const request = cartRequest();
    const address = request.context.profile['email'] as string;
    await produce(request);
    const [mail] = await mailTo(address, 1);
    const returned = `From: Shop <hello@shop.example>\r\nTo: ${address}\r\nSubject: ${mail.subject}\r\nMessage-ID: ${mail.messageId}\r\n`;
    const report = (type: string, part: string, fields: string) =>
      [
        'From: MAILER-DAEMON@mx.example',
        'To: bounces@shop.example',
        'Subject: report',
        'MIME-Version: 1.0',
        `Content-Type: multipart/report; report-type=${type}; boundary="B"`,
        '',
        '--B',
        'Content-Type: text/plain',
        '',
        'A report.',
        '--B',
        `Content-Type: ${part}`,
        '',
        fields,
        '--B',
        'Content-Type: text/rfc822-headers',
        '',
        returned,
        '--B--',
        '',
      ].join('\r\n');
    const post = (body: string) => fetch(`${baseUrl}/bounces`, { method: 'POST', headers: { 'content-type': 'multipart/report; report-type=delivery-status; boundary="B"' }, body });
    const complaint = await post(report('feedback-report', 'message/feedback-report', `Feedback-Type: abuse\r\nVersion: 1\r\nOriginal-Rcpt-To: <${address}>\r\n`));
    expect(await complaint.json()).toEqual({ reports: [{ type: 'complaint', recipient: address, dispatchId: request.dispatchId, suppressed: true }] });
    const bounce = await post(
      report('delivery-status', 'message/delivery-status', `Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; ${address}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <${address}>: user unknown\r\n`),
    );
    expect(bounce.status).toBe(200);
    expect(await bounce.json()).toEqual({ reports: [{ type: 'hard-bounce', recipient: address, dispatchId: request.dispatchId, suppressed: true }] });
    expect((await outcomes(request.dispatchId, 4)).filter((fact) => fact.kind === 'bounced' || fact.kind === 'complained').map((fact) => [fact.kind, fact.detail])).toEqual([
      ['complained', expect.objectContaining({ suppressed: true })],
      ['bounced', expect.objectContaining({ bounceType: 'hard', status: '5.1.1', diagnostic: '550 5.1.1 <<recipient>>: user unknown' })],
    ]);
    // A mail that is no report is refused, naming what it lacks.
    const plain = await fetch(`${baseUrl}/bounces`, { method: 'POST', headers: { 'content-type': 'message/rfc822' }, body: `From: someone@example.ch\r\nSubject: hi\r\n\r\nhello` });
    expect(plain.status).toBe(400);
    expect(await plain.json()).toEqual({ error: 'invalid-report', message: 'the mail holds no message/delivery-status or message/feedback-report part' });
  });

  it('soft bounces suppress an address at DISPATCH_SOFT_BOUNCE_LIMIT (2) within the window; one after a quiet month counts as the first', async () => {
    const request = cartRequest();
    const address = request.context.profile['email'] as string;
    await produce(request);
    await mailTo(address, 1);
    const softBounce = async () => {
      const answer = await fetch(`${baseUrl}/bounces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'soft-bounce', recipient: address, dispatchId: request.dispatchId, status: '4.2.2' }) });
      expect(answer.status).toBe(200);
      return (await answer.json()) as { suppressed: boolean };
    };
    expect(await softBounce()).toMatchObject({ suppressed: false });
    // The first one was 31 days ago (DISPATCH_SOFT_BOUNCE_WINDOW_DAYS is 30).
    await service.dataSource?.query(`UPDATE soft_bounces SET last_at = now() - interval '31 days' WHERE address = $1`, [addressSubject(address)]);
    expect(await softBounce()).toMatchObject({ suppressed: false });
    expect(await softBounce()).toMatchObject({ suppressed: true });
    const next = confirmRequest(request.profileId, address);
    await produce(next);
    expect((await outcomes(next.dispatchId, 2)).find((fact) => fact.kind === 'suppressed')).toMatchObject({ detail: { reason: 'soft-bounces' } });
  });

  it('an erasure leaves no address in the clear: diagnostics never had it, the soft-bounce counts go, the bounced address stays suppressed for the next profile', async () => {
    const request = cartRequest({ profileId: randomUUID() });
    const address = request.context.profile['email'] as string;
    await produce(request);
    await mailTo(address, 1);
    const report = async (type: string, diagnostic: string) => {
      const answer = await fetch(`${baseUrl}/bounces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, recipient: address, dispatchId: request.dispatchId, diagnostic }) });
      expect(answer.status).toBe(200);
    };
    await report('soft-bounce', `452 4.2.2 <${address}>: mailbox full`);
    await report('hard-bounce', `550 5.1.1 <${address}>: user unknown`);
    const mentions = async () => {
      const like = `%${address}%`;
      const [row] = (await service.dataSource?.query(
        `SELECT (SELECT count(*) FROM suppressions WHERE subject ILIKE $1 OR proof::text ILIKE $1)::int AS suppressions,
                (SELECT count(*) FROM soft_bounces WHERE address ILIKE $1)::int AS soft_bounces,
                (SELECT count(*) FROM deliveries WHERE recipient ILIKE $1 OR request::text ILIKE $1 OR mail::text ILIKE $1)::int AS deliveries`,
        [like],
      )) as Array<Record<string, number>>;
      return row;
    };
    // The diagnostics are kept without the address; the soft bounce is counted under the address's digest.
    expect(await mentions()).toEqual({ suppressions: 0, soft_bounces: 0, deliveries: 1 });
    expect(await service.dataSource?.query(`SELECT proof->>'diagnostic' AS diagnostic FROM suppressions WHERE subject = $1`, [addressSubject(address)])).toEqual([{ diagnostic: '550 5.1.1 <<recipient>>: user unknown' }]);
    expect(await service.dataSource?.query('SELECT count FROM soft_bounces WHERE address = $1', [addressSubject(address)])).toEqual([{ count: 1 }]);

    const erasure = { requestId: id('erasure'), profileIds: [request.profileId], identifierCount: 1, erasedAt: new Date().toISOString() };
    expect(validator.validate(SchemaIds.profileErasure, erasure)).toMatchObject({ valid: true });
    await producer.send(Topics.erasures.name, [{ key: request.profileId, value: JSON.stringify(erasure) }]);
    const deadline = Date.now() + 30_000;
    while (((await service.dataSource?.query('SELECT recipient FROM deliveries WHERE dispatch_id = $1', [request.dispatchId])) as Array<{ recipient: string | null }>)[0]?.recipient !== null) {
      if (Date.now() > deadline) throw new Error('the erasure was not applied within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await mentions()).toEqual({ suppressions: 0, soft_bounces: 0, deliveries: 0 });
    expect(await service.dataSource?.query('SELECT count(*)::int AS n FROM soft_bounces WHERE address = $1', [addressSubject(address)])).toEqual([{ n: 0 }]);

    // Whoever enters the address next: still a hard bounce.
    const next = confirmRequest(`profile-${id('next')}`, address);
    const marker = confirmRequest(`profile-${id('marker')}`, `marker-${run}-${sequence}@example.ch`);
    await produce(next, marker);
    await mailTo(marker.context.profile['email'] as string, 1);
    expect((await outcomes(next.dispatchId, 2)).find((fact) => fact.kind === 'suppressed')).toMatchObject({ detail: { reason: 'hard-bounce' } });
    expect(await mailTo(address, 1, 0)).toHaveLength(1);
  });

  it('double opt-in: the confirmation link records the confirmed consent with its proof, and the confirmation comes back as an event', async () => {
    const profileId = `profile-${id('doi')}`;
    const address = `doi-${run}@example.ch`;
    const request = confirmRequest(profileId, address);
    await produce(request);
    const [mail] = await mailTo(address, 1);
    expect(header(mail, 'List-Unsubscribe')).toBeUndefined(); // transactional
    const confirmUrl = hrefs(mail.html ?? '').find((link) => link.startsWith(`${baseUrl}/confirm/`)) ?? '';
    expect(mail.text).toContain(confirmUrl);
    const confirmed = await fetch(confirmUrl, { headers: { 'user-agent': 'int-spec-browser/1.0', 'x-forwarded-for': '203.0.113.9' } });
    expect(confirmed.status).toBe(200);

    const [consent] = (await service.dataSource?.query('SELECT status, proof FROM consents WHERE profile_id = $1', [profileId])) as Array<{ status: string; proof: Record<string, unknown> }>;
    expect(consent).toEqual({
      status: 'confirmed',
      // The visitor's address, not the proxy's: the proof of consent names who confirmed.
      proof: expect.objectContaining({ method: 'confirm-link', ip: '203.0.113.9', userAgent: 'int-spec-browser/1.0', dispatchId: request.dispatchId, messageId: mail.messageId, templateId: 'confirm-subscription', at: expect.any(String) }),
    });
    const [event] = await readTopic(kafkaBrokers, Topics.internal.name, 1, 30_000, (record) => json<{ messageId?: string }>(record).messageId === `kairos-dispatch:${request.dispatchId}:confirmed`);
    expect(json(event)).toMatchObject({ type: 'track', event: 'Double Opt-in Confirmed', context: { kairos: { profileId: request.profileId }, userAgent: 'int-spec-browser/1.0' } });
    expect((await outcomes(request.dispatchId, 3)).find((fact) => fact.kind === 'confirmed')).toBeDefined();
  });

  it('an open and a click come back as Segment events on the internal topic and as outcomes', async () => {
    const request = cartRequest({ profileId: randomUUID() }); // a profile id as identity makes them, as engagement events carry it
    await produce(request);
    const [mail] = await mailTo(request.context.profile['email'] as string, 1);
    const pixel = /src="([^"]*\/o\/[^"]+)"/.exec(mail.html ?? '')?.[1] ?? '';
    const opened = await fetch(pixel);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('content-type')).toBe('image/gif');
    const click = hrefs(mail.html ?? '').find((link) => link.includes('/c/')) ?? '';
    expect((await fetch(click, { redirect: 'manual' })).status).toBe(302);

    const events = await readTopic(kafkaBrokers, Topics.internal.name, 2, 30_000, (record) => (json<{ messageId?: string }>(record).messageId ?? '').startsWith(`kairos-dispatch:${request.dispatchId}:`));
    const byName = Object.fromEntries(events.map((record) => [json<{ event: string }>(record).event, json<Record<string, unknown>>(record)]));
    expect(byName['Email Opened']).toMatchObject({ type: 'track', context: { kairos: { profileId: request.profileId } }, properties: { dispatchId: request.dispatchId, templateId: 'cart-reminder' } });
    expect(byName['Email Clicked']).toMatchObject({ type: 'track', properties: { url: 'https://shop.example/p/wanderschuh', link: 0 } });
    for (const record of events) expect(validator.validate(SchemaIds.segmentEvent, json(record))).toMatchObject({ valid: true });
    const kinds = (await outcomes(request.dispatchId, 4)).map((fact) => fact.kind);
    expect(kinds).toEqual(expect.arrayContaining(['opened', 'clicked']));
  });

  it('a webhook request is POSTed signed, retried after a 503 and a timeout, and sent once', async () => {
    const received: Array<{ signature: string; dispatchId: string; body: string }> = [];
    let calls = 0;
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        calls += 1;
        received.push({ signature: String(request.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()]), dispatchId: String(request.headers[WEBHOOK_DISPATCH_HEADER.toLowerCase()]), body: Buffer.concat(chunks).toString() });
        if (calls === 1) return void response.writeHead(503).end('busy');
        if (calls === 2) return; // never answers: the attempt times out
        response.writeHead(204).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const request: DispatchRequestRecord = {
        dispatchId: id('hook'),
        profileId: `profile-${id('hook')}`,
        requestedAt: new Date().toISOString(),
        reason: { trigger: 'order-completed' },
        channel: 'webhook',
        url: `http://127.0.0.1:${port}/hooks/order`,
        body: { profile: { id: 'x' }, event: { name: 'Order Completed' } },
      };
      await produce(request);
      const facts = await outcomes(request.dispatchId, 4, 60_000);
      expect(facts.map((fact) => fact.kind).sort()).toEqual(['queued', 'retried', 'retried', 'sent']);
      expect(calls).toBe(3);
      for (const call of received) {
        expect(call.dispatchId).toBe(request.dispatchId);
        expect(verifyWebhook(WEBHOOK_SECRET, call.body, call.signature, Math.floor(Date.now() / 1000))).toBe(true);
        expect(JSON.parse(call.body)).toEqual(request.body);
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a webhook step naming its secret is signed with it; one naming a secret dispatch lacks, or may not read, with WEBHOOK_SECRET', async () => {
    const received: Array<{ signature: string; dispatchId: string; body: string }> = [];
    const server: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ signature: String(request.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()]), dispatchId: String(request.headers[WEBHOOK_DISPATCH_HEADER.toLowerCase()]), body: Buffer.concat(chunks).toString() });
        response.writeHead(204).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const hook = (name: string, secretName: string): DispatchRequestRecord => ({
        dispatchId: id(name),
        profileId: `profile-${id(name)}`,
        requestedAt: new Date().toISOString(),
        reason: { trigger: 'vip' },
        channel: 'webhook',
        url: `http://127.0.0.1:${port}/hooks/${name}`,
        secretName,
        body: { profile: { id: name } },
      });
      // DATABASE_URL is set in dispatch's environment, but no name outside *_WEBHOOK_SECRET is ever read.
      const hooks = [hook('named-hook', 'CRM_WEBHOOK_SECRET'), hook('missing-hook', 'MISSING_WEBHOOK_SECRET'), hook('forbidden-hook', 'DATABASE_URL')];
      await produce(...hooks);
      for (const request of hooks) expect((await outcomes(request.dispatchId, 2)).map((fact) => fact.kind).sort()).toEqual(['queued', 'sent']);
      const signedWith = (dispatchId: string) => {
        const call = received.find((entry) => entry.dispatchId === dispatchId);
        const now = Math.floor(Date.now() / 1000);
        return [NAMED_SECRET, WEBHOOK_SECRET, String(env.DATABASE_URL)].filter((secret) => call && verifyWebhook(secret, call.body, call.signature, now));
      };
      expect(hooks.map((request) => signedWith(request.dispatchId))).toEqual([[NAMED_SECRET], [WEBHOOK_SECRET], [WEBHOOK_SECRET]]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('the SMTP sink down for 30 s, then back: every pending mail is sent, once', async () => {
    await sink.stopSmtp();
    const requests = Array.from({ length: 5 }, () => cartRequest());
    try {
      await produce(...requests);
      // Each goes through refused attempts into `retrying`, on durable timers.
      for (const request of requests) expect((await outcomes(request.dispatchId, 2)).map((fact) => fact.kind)).toContain('retried');
      // A refused connection is an outage of the relay, not a verdict on the mails: dispatch waits for it.
      await untilMetrics(metricsUrl, (samples) => expect(metricValue(samples, 'kairos_dispatch_smtp_reachable')).toBe(0));
      expect(await (await fetch(`http://127.0.0.1:${healthPort}/health/ready`)).text()).toContain('smtp');
      await new Promise((resolve) => setTimeout(resolve, 30_000));
    } finally {
      await sink.startSmtp();
    }
    for (const request of requests) {
      const mails = await mailTo(request.context.profile['email'] as string, 1, 30_000);
      expect(mails.map((mail) => mail.messageId)).toEqual([`<${request.dispatchId}@kairos.local>`]);
    }
    // A marker after them: nothing more arrives for them once it has.
    const marker = confirmRequest(`profile-${id('marker')}`, `outage-marker-${run}@example.ch`);
    await produce(marker);
    await mailTo(`outage-marker-${run}@example.ch`, 1);
    for (const request of requests) {
      expect(await mailTo(request.context.profile['email'] as string, 1, 0)).toHaveLength(1);
      // The wait may have given more than one 'retried' (refused, then a timeout as the sink came back): read to 'sent'.
      const sent = await readTopic(kafkaBrokers, Topics.deliveryOutcomes.name, 1, 30_000, (record) => {
        const outcome = json<DeliveryOutcomeRecord>(record);
        return outcome.dispatchId === request.dispatchId && outcome.kind === 'sent';
      });
      expect(sent.map((record) => json<DeliveryOutcomeRecord>(record).detail)).toEqual([expect.objectContaining({ messageId: `<${request.dispatchId}@kairos.local>` })]);
    }
  }, 120_000);

  it('the metrics count what the tests above did: outcomes by kind and channel, SMTP attempts by result, the relay reachable again, the backlog', async () => {
    const at = (samples: MetricSample[], name: string, labels: Record<string, string> = {}) => metricValue(samples, name, labels) ?? 0;
    const samples = await untilMetrics(metricsUrl, (exposed) => {
      // Each test's mails were sent; the outage gave five 'retried' at least; the webhook tests' four POSTs went out.
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'sent', channel: 'email' })).toBeGreaterThanOrEqual(10);
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'retried', channel: 'email' })).toBeGreaterThanOrEqual(5);
      // Waiting for an unreachable relay publishes one 'retried' per mail, not one per probe (the outage's 30 s at a
      // 500 ms back-off would be dozens); the 451s (before an unsubscribe, the lost claim's, the dead-lettered one's:
      // seven each at most) add up to 21.
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'retried', channel: 'email' })).toBeLessThanOrEqual(40);
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'sent', channel: 'webhook' })).toBe(4);
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'failed', channel: 'email' })).toBeGreaterThanOrEqual(1);
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'suppressed', channel: 'email' })).toBeGreaterThanOrEqual(1);
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'clicked', channel: 'email' })).toBeGreaterThanOrEqual(1);
      expect(at(exposed, 'kairos_dispatch_outcomes_total', { kind: 'unsubscribed', channel: 'email' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(exposed, 'kairos_dispatch_outbox_refused_rows')).toBe(1);
    });
    expect(at(samples, 'kairos_dispatch_attempt_duration_seconds_count', { channel: 'email', result: 'accepted' })).toBeGreaterThanOrEqual(10);
    expect(at(samples, 'kairos_dispatch_attempt_duration_seconds_count', { channel: 'email', result: 'unreachable' })).toBeGreaterThanOrEqual(1);
    expect(at(samples, 'kairos_dispatch_attempt_duration_seconds_count', { channel: 'email', result: 'permanent' })).toBeGreaterThanOrEqual(1);
    expect(at(samples, 'kairos_dispatch_attempt_duration_seconds_count', { channel: 'webhook', result: 'temporary' })).toBeGreaterThanOrEqual(2);
    expect(metricValue(samples, 'kairos_dispatch_smtp_reachable')).toBe(1);
    expect(metricValue(samples, 'kairos_dispatch_in_flight')).toBeGreaterThanOrEqual(0);
    // Read every 10 s: present, and no delivery has waited long (all were sent above).
    expect(metricValue(samples, 'kairos_dispatch_due_deliveries')).toBeGreaterThanOrEqual(0);
    expect(metricValue(samples, 'kairos_dispatch_oldest_due_seconds')).toBeLessThan(60);
    // The oversized dead letter set aside above; everything else was published (the gauges are read every 10 s).
    expect(at(samples, 'kairos_dispatch_outbox_refused_total', { topic: `kairos.dlq.${groupId}.v1` })).toBe(1);
    expect(metricValue(samples, 'kairos_dispatch_outbox_oldest_seconds')).toBeLessThan(60);
  });

  it('a second instance joining and leaving mid-backlog sends nothing twice: 1,000 mails, each once, through two rebalances', async () => {
    const secondHealthPort = await freePort();
    const second = await startServiceProcess('dispatch', { ...env, HEALTH_PORT: String(secondHealthPort), DISPATCH_PORT: String(await freePort()), LOG_LEVEL: 'error' }, secondHealthPort, 'a second dispatch instance');
    let stopped = false;
    try {
      // Both instances own a partition of the requests before any is produced.
      for (let deadline = Date.now() + 60_000; (await stableMembers()) < 2; ) {
        if (Date.now() > deadline) throw new Error('the second instance was given no partition within 60 s');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const requests = Array.from({ length: 1_000 }, (_, index) => confirmRequest(`profile-${id('rebalance')}`, `rebalance-${run}-${index}@example.ch`));
      const arrived = async () => {
        const listing = (await (await fetch(sink.inboxUrl)).json()) as { messages: Array<{ envelope: { to: string[] } }> };
        return listing.messages.flatMap((message) => message.envelope.to).filter((address) => address.startsWith(`rebalance-${run}-`));
      };
      for (let start = 0; start < requests.length; start += 250) await produce(...requests.slice(start, start + 250));
      // The second instance leaves (finishing its batch, committing, leaving the group) once it has sent some and
      // while mail is still going out: its partition moves back, and what it had not committed is delivered again.
      await untilMetrics(`http://127.0.0.1:${secondHealthPort}/metrics`, (samples) => expect(metricValue(samples, 'kairos_dispatch_outcomes_total', { kind: 'sent' })).toBeGreaterThan(0), 60_000);
      expect((await arrived()).length).toBeLessThan(requests.length);
      await second.stop();
      stopped = true;
      // It stopped by itself, with every delivery it had started finished, rather than being killed after 30 s.
      expect({ code: second.child.exitCode, signal: second.child.signalCode }).toEqual({ code: 0, signal: null });
      for (let deadline = Date.now() + 60_000; (await arrived()).length < requests.length && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 200));
      // A marker after them all: once it is out, nothing more is coming for them.
      const marker = confirmRequest(`profile-${id('marker')}`, `rebalance-marker-${run}@example.ch`);
      await produce(marker);
      await mailTo(`rebalance-marker-${run}@example.ch`, 1);
      const received = await arrived();
      const twice = received.filter((address, index) => received.indexOf(address) !== index);
      expect({ received: new Set(received).size, twice }).toEqual({ received: requests.length, twice: [] });
    } finally {
      if (!stopped) await second.stop();
    }
  }, 180_000);

  /** Members of this run's dispatch group, once it is stable (two members: each has one of the two partitions). */
  async function stableMembers(): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const {
        groups: [group],
      } = await admin.describeGroups([groupId]);
      return group.state === 'Stable' ? group.members.length : 0;
    } finally {
      await admin.disconnect();
    }
  }
});
