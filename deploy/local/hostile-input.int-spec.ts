import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import PostalMime, { Email } from 'postal-mime';
import { AcceptedEvent, RejectedEvent, Topics } from '@kairos/contracts';
import { ConsumedRecord, readTopicToEnd, RecordProducer } from '@kairos/kafka';
import { Pipeline, postUntilAccepted, readTopic, startPipeline } from '@kairos/testing';
import { decodeEntities } from './demo-reader';
import { publishDefinitions } from './fault-suite';

/**
 * Bad input end to end, through the five services: hostile payloads through the collector and the raw topic, hostile
 * traits rendered into mail, forged and altered tokens at dispatch's endpoints. Each case gets its typed rejection
 * or is neutralised, the valid events sent beside them all arrive, and reports/hostile-input.json lists each case
 * with what happened.
 */
describe('hostile input, end to end', () => {
  let pipeline: Pipeline;
  const cases: Array<{ case: string; expected: string; happened: string }> = [];
  const record = (name: string, expected: string, happened: string) => cases.push({ case: name, expected, happened });
  const run = Date.now().toString(36);
  const email = (who: string) => `${who}-${run}@hostile.example`;
  const ping = (event: string, who: string, n: number, traits: Record<string, unknown> = {}) => ({
    type: 'track',
    messageId: `hostile-${run}-${event.replace(/\s/g, '')}-${n}`,
    userId: `hostile-${run}-${who}`,
    event,
    properties: { n },
    context: { traits: { email: email(who), firstName: 'Anna', ...traits } },
  });
  const post = (body: string | Buffer, contentType = 'application/json') =>
    fetch(`${pipeline.collectorUrl}/v1/batch`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Basic ${Buffer.from(`${pipeline.writeKey}:`).toString('base64')}` }, body });

  /** The mails whose subject starts with `prefix`, parsed, once `count` of them arrived. */
  const mails = async (prefix: string, count: number): Promise<Email[]> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const parsed = await Promise.all(readdirSync(pipeline.mailDir).filter((file) => file.endsWith('.eml')).map((file) => PostalMime.parse(readFileSync(join(pipeline.mailDir, file)))));
      const found = parsed.filter((mail) => (mail.subject ?? '').startsWith(prefix));
      if (found.length >= count || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: 2, log: () => undefined, prepare: (kafka) => publishDefinitions(kafka, join(__dirname, '..', '..', 'definitions', 'ledger')) });
  }, 180_000);

  afterAll(async () => {
    await pipeline?.stop();
    mkdirSync('reports', { recursive: true });
    writeFileSync(join('reports', 'hostile-input.json'), `${JSON.stringify({ at: new Date().toISOString(), cases }, null, 2)}\n`);
  }, 120_000);

  it('refuses what is malformed with its reason and loses nothing valid beside it', async () => {
    const oversized = await post(JSON.stringify({ batch: [{ ...ping('Ledger Ping', 'big', 0), properties: { n: 0, pad: 'x'.repeat(600 * 1024) } }] }));
    expect(oversized.status).toBe(413);
    record('600 KiB batch through the collector', '413, nothing stored', `${oversized.status} ${await oversized.text()}`);

    const invalidUtf8 = await post(Buffer.concat([Buffer.from('{"batch":[{"type":"track","userId":"u","event":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')]));
    const invalidUtf8Body = (await invalidUtf8.json()) as { reason?: string; error?: string };
    expect(invalidUtf8.status).toBe(400);
    record('invalid UTF-8 in the body', '400 invalid_encoding', `${invalidUtf8.status} ${JSON.stringify(invalidUtf8Body)}`);

    let deep: Record<string, unknown> = { leaf: true };
    for (let depth = 0; depth < 200; depth++) deep = { deeper: deep };
    const nested = { ...ping('Ledger Ping', 'deep', 0), messageId: `hostile-${run}-deep`, properties: { n: -1, deep } };
    const mixed = await post(JSON.stringify({ batch: [nested, ping('Ledger Ping', 'valid', 1)] }));
    const mixedBody = (await mixed.json()) as { accepted: number; rejected: number; errors: Array<{ reason: string }> };
    expect({ status: mixed.status, accepted: mixedBody.accepted, reasons: mixedBody.errors.map((error) => error.reason) }).toEqual({ status: 200, accepted: 1, reasons: ['depth_violation'] });
    record('200-level nested properties beside a valid event in one batch', 'the nested one rejected (depth_violation), the valid one accepted', JSON.stringify(mixedBody));

    // Kairos' own services address a profile by its id (context.kairos) on the internal topic; from anywhere else it
    // would let a sender write to a profile it names without knowing the person's identifiers.
    const posing = { ...ping('Ledger Ping', 'posing', 0), messageId: `hostile-${run}-posing`, context: { kairos: { profileId: '0b7c2f7e-3c1d-4a5e-9f00-1234567890ab' } } };
    const posed = await post(JSON.stringify({ batch: [posing] }));
    const posedBody = (await posed.json()) as { accepted: number; errors: Array<{ reason: string; detail: string }> };
    expect({ status: posed.status, accepted: posedBody.accepted, errors: posedBody.errors.map(({ reason, detail }) => ({ reason, detail })) }).toEqual({
      status: 200,
      accepted: 0,
      errors: [{ reason: 'schema_violation', detail: "/context/kairos addresses a Kairos profile by its id: only Kairos' own services send it, on kairos.events.internal.v1" }],
    });
    record("an event posing as one of Kairos' own (context.kairos.profileId) through the collector", 'rejected (schema_violation)', JSON.stringify(posedBody));

    // The same smuggled inside a single event, as a field named "batch": the collector writes every request as an
    // envelope, so the intake reads that field as the event's data, never as events of their own.
    const smuggler = { userId: `hostile-${run}-smuggler`, messageId: `hostile-${run}-smuggler`, traits: { firstName: 'Mallory' }, batch: [{ ...posing, type: 'identify', messageId: `hostile-${run}-smuggled` }] };
    const smuggled = await fetch(`${pipeline.collectorUrl}/v1/identify`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${pipeline.writeKey}:`).toString('base64')}` }, body: JSON.stringify(smuggler) });
    expect(smuggled.status).toBe(200);
    const acceptedOf = (messageId: string) => (entry: ConsumedRecord) => (JSON.parse(entry.value?.toString() ?? '{}') as AcceptedEvent).messageId === messageId;
    expect(await readTopic(pipeline.stack.kafkaBrokers, Topics.accepted.name, 1, 60_000, acceptedOf(smuggler.messageId))).toHaveLength(1);
    const inner: AcceptedEvent[] = [];
    await readTopicToEnd(pipeline.kafka, Topics.accepted.name, (records) => void inner.push(...records.filter(acceptedOf(`hostile-${run}-smuggled`)).map((entry) => JSON.parse(entry.value!.toString()) as AcceptedEvent)));
    expect(inner).toEqual([]);
    record('an event addressed by profile id smuggled in a "batch" field of a single event (/v1/identify)', 'the outer event accepted, the inner one never read as an event', `outer accepted, inner accepted ${inner.length} times`);

    const producer = new RecordProducer(pipeline.kafka);
    await producer.connect();
    await producer.send(Topics.raw.name, [
      { key: `hostile-${run}`, value: '{"type":"track", not json' },
      { key: `hostile-${run}`, value: Buffer.concat([Buffer.from(`{"type":"track","userId":"hostile-${run}-raw","event":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) },
      { key: `hostile-${run}`, value: JSON.stringify({ ...posing, messageId: `hostile-${run}-posing-raw` }) },
      { key: `hostile-${run}`, value: JSON.stringify(ping('Ledger Ping', 'raw-valid', 2)) },
    ]);
    await producer.disconnect();

    const [valid] = await mails('Ledger 1', 1);
    const [rawValid] = await mails('Ledger 2', 1);
    expect([valid?.subject, rawValid?.subject]).toEqual(['Ledger 1', 'Ledger 2']);
    record('the valid events sent beside the hostile ones', 'each gets its mail', `${valid?.subject}, ${rawValid?.subject}`);

    const rejected: RejectedEvent[] = [];
    await readTopicToEnd(pipeline.kafka, Topics.rejected.name, (records) => void rejected.push(...records.map((entry) => JSON.parse(entry.value?.toString() ?? '{}') as RejectedEvent)));
    const fromRaw = rejected.filter((entry) => entry.via === 'kafka').map((entry) => entry.reason).sort();
    expect(fromRaw).toEqual(['invalid_encoding', 'invalid_json', 'schema_violation']);
    record('not JSON, invalid UTF-8, and an event addressed by profile id, on the raw topic', 'each on the rejected topic with its reason', fromRaw.join(', '));
  }, 180_000);

  it('renders hostile traits as text: no script, no header injection, no template evaluation', async () => {
    const script = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const crlf = 'Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes';
    const template = "{{constructor.constructor('return process')()}}";
    await postUntilAccepted(pipeline, [
      ping('Greeting Ping', 'script', 1, { firstName: script }),
      ping('Greeting Ping', 'crlf', 2, { firstName: crlf }),
      ping('Greeting Ping', 'template', 3, { firstName: template }),
    ]);
    const greetings = await mails('Greeting', 3);
    const byNumber = (n: number) => greetings.find((mail) => (mail.subject ?? '').startsWith(`Greeting ${n} `));

    const scripted = byNumber(1);
    expect(scripted?.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(scripted?.html).not.toMatch(/<script|<img src=x/i);
    record('<script> and an onerror image in a trait', 'escaped in the HTML part', scripted?.html?.match(/Hello [^,]*/)?.[0] ?? 'no mail');

    const injected = byNumber(2);
    const headerNames = (injected?.headers ?? []).map((header) => header.key.toLowerCase());
    expect(headerNames).not.toContain('bcc');
    expect(headerNames).not.toContain('x-injected');
    expect(injected?.subject).not.toMatch(/[\r\n]/);
    record('CRLF and header lines in a trait used in the subject', 'one subject line, no Bcc or X-Injected header', `subject ${JSON.stringify(injected?.subject)}`);

    const literal = byNumber(3);
    expect(literal?.text).toContain(template);
    record('Handlebars syntax in a trait', 'printed literally, never evaluated', literal?.text?.trim() ?? 'no mail');
  }, 180_000);

  it('refuses forged and altered tokens and redirects only to the mail’s own link', async () => {
    const [greeting] = await mails('Greeting 1 ', 1);
    const href = greeting?.html?.match(/href="([^"]*\/c\/[^"]+)"/)?.[1];
    const click = href === undefined ? undefined : decodeEntities(href);
    expect(click).toBeDefined();
    const link = new URL(click ?? '');
    const dispatchOrigin = link.origin;

    const followed = await fetch(link, { redirect: 'manual' });
    expect({ status: followed.status, location: followed.headers.get('location') }).toEqual({ status: 302, location: 'https://shop.example/account' });

    const elsewhere = new URL(link);
    elsewhere.searchParams.set('u', 'https://evil.example/phish');
    const openRedirect = await fetch(elsewhere, { redirect: 'manual' });
    expect({ status: openRedirect.status, location: openRedirect.headers.get('location') }).toEqual({ status: 403, location: null });
    record('the click link with its target changed to another site', '403, no redirect', `${openRedirect.status}`);

    const token = link.pathname.split('/').pop() ?? '';
    const altered = new URL(link);
    altered.pathname = `/c/${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const alteredClick = await fetch(altered, { redirect: 'manual' });
    expect([400, 403]).toContain(alteredClick.status);
    record('the click token with two characters altered', '400 or 403, no redirect', `${alteredClick.status}`);

    const forged = await fetch(`${dispatchOrigin}/u/forged-token-${run}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect([400, 403]).toContain(forged.status);
    record('a forged one-click unsubscribe token', '400 or 403, nothing recorded', `${forged.status} ${await forged.text()}`);
  }, 180_000);
});
