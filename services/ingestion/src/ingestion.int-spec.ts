import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Analytics } from '@segment/analytics-node';
import { AcceptedEvent, RawEventHeaders, RejectedEvent, Topics } from '@kairos/contracts';
import { ConsumedRecord, connectKafka, OutgoingRecord, RecordProducer } from '@kairos/kafka';
import { RunningService } from '@kairos/service-runtime';
import { readTopic, serviceTestEnv, testStack } from '@kairos/testing';
import { Client } from 'pg';
import { startIngestion } from './main';

const WRITE_KEY = `test_write_key_${randomUUID()}`;
const SOURCES = JSON.stringify([{ id: 'test-web', writeKey: WRITE_KEY, collectIp: true }]);
const json = (record: ConsumedRecord) => JSON.parse(record.value!.toString());

describe('ingestion against the real stack', () => {
  const { kafkaBrokers } = testStack();
  const producer = new RecordProducer(connectKafka({ brokers: kafkaBrokers, clientId: 'ingestion-int-spec', logLevel: 'error' }));
  let service: RunningService;
  let collector: string;
  let healthPort: string;
  const run = randomUUID().slice(0, 8); // every id in this run carries it, so other tests' records never match

  const accepted = (count: number, match: (event: AcceptedEvent) => boolean, timeoutMs = 30_000) =>
    readTopic(kafkaBrokers, Topics.accepted.name, count, timeoutMs, (record) => match(json(record))).then((records) => records.map((record) => json(record) as AcceptedEvent));
  const rejected = (count: number, match: (event: RejectedEvent) => boolean, timeoutMs = 30_000) =>
    readTopic(kafkaBrokers, Topics.rejected.name, count, timeoutMs, (record) => match(json(record))).then((records) => records.map((record) => json(record) as RejectedEvent));
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${collector}${path}`, { method: 'POST', body, headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`, 'content-type': 'application/json', ...headers } });

  async function start(): Promise<void> {
    const env = await serviceTestEnv({ KAIROS_SOURCES: SOURCES });
    collector = `http://127.0.0.1:${env['COLLECTOR_PORT']}`;
    healthPort = env['HEALTH_PORT'];
    service = await startIngestion(env);
  }

  beforeAll(async () => {
    await producer.connect();
    await start();
  });
  afterAll(async () => {
    await service.stop();
    await producer.disconnect();
  });

  it('accepts track, identify, page and alias from the real @segment/analytics-node client', async () => {
    const userId = `user-${run}`;
    const analytics = new Analytics({ writeKey: WRITE_KEY, host: collector, flushAt: 4, maxRetries: 0 });
    analytics.identify({ userId, traits: { email: `  Anna.${run}@Example.CH `, firstName: 'Anna' } });
    analytics.track({ userId, event: 'Order Completed', properties: { total: 129, currency: 'CHF' } });
    analytics.page({ userId, name: 'Home' });
    analytics.alias({ userId, previousId: `anon-${run}` });
    await analytics.closeAndFlush({ timeout: 10_000 });

    const events = await accepted(4, (event) => event.userId === userId);
    expect(events.map((event) => event.type).sort()).toEqual(['alias', 'identify', 'page', 'track']);
    for (const event of events) {
      expect(event.sourceId).toBe('test-web');
      expect(event.messageId).toBeTruthy();
      expect(Date.parse(event.receivedAt)).not.toBeNaN();
      expect(Date.parse(event.timestamp)).not.toBeNaN();
      expect(event.context?.['library']).toMatchObject({ name: '@segment/analytics-node' });
      // analytics-node puts no userAgent in the context; the collector adds the one of the HTTP request.
      expect(event.context?.['userAgent']).toBe('analytics-node-next/latest');
    }
    expect(events.find((event) => event.type === 'identify')?.identifiers.email).toBe(`anna.${run}@example.ch`);
    expect(events.find((event) => event.type === 'alias')?.identifiers).toEqual({ userId, previousId: `anon-${run}` });
  });

  it('accepts events produced straight to the raw topic, with the Kafka source or a write key header', async () => {
    await producer.send(Topics.raw.name, [
      { key: `k-${run}`, value: JSON.stringify({ type: 'track', event: 'Direct', userId: `kafka-${run}`, messageId: `direct-${run}` }) },
      { key: `k-${run}`, value: JSON.stringify({ type: 'track', event: 'Keyed', userId: `kafka-${run}`, messageId: `keyed-${run}` }), headers: { [RawEventHeaders.writeKey]: WRITE_KEY } },
    ]);
    const events = await accepted(2, (event) => event.userId === `kafka-${run}`);
    expect(Object.fromEntries(events.map((event) => [event.messageId, event.sourceId]))).toEqual({ [`direct-${run}`]: 'kafka', [`keyed-${run}`]: 'test-web' });
  });

  it("takes Kairos' own events from the internal topic under the source kairos, and a new group reads them from the start even where it skips the raw topic's backlog", async () => {
    const profileId = randomUUID();
    const own = { type: 'track', event: 'Email Opened', messageId: `kairos-dispatch:${run}:opened`, context: { kairos: { profileId } } };
    await producer.send(Topics.internal.name, [{ key: profileId, value: JSON.stringify(own) }]);
    await producer.send(Topics.raw.name, [{ key: `late-${run}`, value: JSON.stringify({ type: 'track', event: 'Backlog', userId: `late-${run}`, messageId: `backlog-${run}` }) }]);
    const [event] = await accepted(1, (candidate) => candidate.messageId === own.messageId);
    expect(event).toMatchObject({ sourceId: 'kairos', identifiers: { profileId } });

    // An instance of a group new to both topics that starts at the raw topic's end (an upgrade with
    // INTAKE_FROM_BEGINNING=false): what it saw is in its own schema's de-duplication table.
    const schema = `ingestion_late_${run}`;
    const late = await startIngestion(await serviceTestEnv({ KAIROS_SOURCES: SOURCES, INGESTION_ROLE: 'intake', INTAKE_FROM_BEGINNING: 'false', KAFKA_GROUP_ID: `kairos-ingestion-late-${run}`, DATABASE_SCHEMA: schema }));
    const database = new Client({ connectionString: testStack().databaseUrl });
    await database.connect();
    const seen = async (messageId: string) => (await database.query(`SELECT source_id FROM "${schema}".seen_messages WHERE message_id = $1`, [messageId])).rows.map((row: { source_id: string }) => row.source_id);
    try {
      // Markers on the raw topic until one is seen: from then on the instance reads the raw topic.
      for (let attempt = 0; (await seen(`late-marker-${run}-${attempt - 1}`)).length === 0; attempt++) {
        if (attempt > 100) throw new Error('the late instance saw none of 100 raw markers');
        await producer.send(Topics.raw.name, [{ key: `late-${run}`, value: JSON.stringify({ type: 'track', event: 'Marker', userId: `late-${run}`, messageId: `late-marker-${run}-${attempt}` }) }]);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      for (let attempt = 0; (await seen(own.messageId)).length === 0; attempt++) {
        if (attempt > 100) throw new Error('the late instance did not read the internal topic from its start');
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(await seen(own.messageId)).toEqual(['kairos']);
      expect(await seen(`backlog-${run}`)).toEqual([]);
    } finally {
      await database.end();
      await late.stop();
    }
  });

  it('rejects every kind of bad raw record with its reason and the original bytes, and passes the good one beside them', async () => {
    const track = (extra: object) => JSON.stringify({ type: 'track', event: 'Bad', userId: `bad-${run}`, ...extra });
    const cases: Array<[string, OutgoingRecord]> = [
      ['invalid_json', { value: `{"malformed": ${run}` }],
      ['invalid_json', { value: `plain text ${run}` }],
      ['invalid_encoding', { value: Buffer.concat([Buffer.from(`{"run":"${run}","x":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]) }],
      ['size_violation', { value: track({ messageId: `big-${run}`, properties: { blob: 'x'.repeat(33_000) } }) }],
      ['depth_violation', { value: track({ messageId: `deep-${run}`, properties: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) }) }],
      ['schema_violation', { value: track({ messageId: `types-${run}`, properties: 'not an object' }) }],
      ['missing_identity', { value: JSON.stringify({ type: 'track', event: 'Anonymous', messageId: `noid-${run}` }) }],
      ['timestamp_out_of_range', { value: track({ messageId: `future-${run}`, timestamp: '2099-01-01T00:00:00Z' }) }],
      ['timestamp_out_of_range', { value: track({ messageId: `past-${run}`, timestamp: '1990-01-01T00:00:00Z' }) }],
      ['unknown_source', { value: track({ messageId: `stranger-${run}` }), headers: { [RawEventHeaders.writeKey]: 'nobody-knows-this-key' } }],
    ];
    await producer.send(Topics.raw.name, [...cases.map(([, record]) => record), { value: track({ messageId: `good-${run}` }) }]);
    const payloads = new Map(cases.map(([reason, record]) => [Buffer.from(record.value!).toString('base64'), reason]));

    const refused = await rejected(cases.length, (event) => payloads.has(event.payloadBase64));
    expect(refused.map((event) => [event.reason, payloads.get(event.payloadBase64)]).every(([got, expected]) => got === expected)).toBe(true);
    expect(refused.map((event) => event.reason).sort()).toEqual(cases.map(([reason]) => reason).sort());
    expect(refused.every((event) => event.via === 'kafka' && event.origin?.topic === Topics.raw.name && event.detail.length > 0)).toBe(true);
    expect(await accepted(1, (event) => event.messageId === `good-${run}`)).toHaveLength(1);
  });

  it('answers HTTP errors precisely: 400 unreadable, 401 unknown key, 413 oversize, 200 with per-event results', async () => {
    const malformed = await post('/v1/track', `{"event": "x", ${run}`);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ success: false, reason: 'invalid_json' });

    const badUtf8 = await post('/v1/batch', Buffer.concat([Buffer.from('{"batch":[{"type":"page","userId":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]));
    expect(badUtf8.status).toBe(400);
    expect(await badUtf8.json()).toMatchObject({ reason: 'invalid_encoding' });

    const unknownKey = await fetch(`${collector}/v1/track`, { method: 'POST', body: '{}', headers: { authorization: `Basic ${Buffer.from('wrong-key:').toString('base64')}` } });
    expect(unknownKey.status).toBe(401);
    const noKey = await fetch(`${collector}/v1/track`, { method: 'POST', body: JSON.stringify({ event: 'e', userId: 'u' }) });
    expect(noKey.status).toBe(401);

    const oneByteTooMany = JSON.stringify({ event: 'Big', userId: `u-${run}`, properties: { pad: '' } });
    const single = await post('/v1/track', oneByteTooMany.replace('"pad":""', `"pad":"${'x'.repeat(32 * 1024 + 1 - oneByteTooMany.length)}"`));
    expect(single.status).toBe(413);
    const tooMany = await post('/v1/batch', JSON.stringify({ batch: Array.from({ length: 2_501 }, () => ({ type: 'page', userId: 'u' })) }));
    expect(tooMany.status).toBe(413);
    expect(await tooMany.json()).toMatchObject({ error: '2501 events; at most 2500 per batch' });

    const batch = Array.from({ length: 100 }, (_, index) => ({ type: 'track', event: 'Viewed', userId: `mixed-${run}`, messageId: `mixed-${run}-${index}` }));
    batch[37] = { type: 'track', userId: `mixed-${run}`, messageId: `mixed-${run}-37` } as (typeof batch)[number]; // no event name
    const mixed = await post('/v1/batch', gzipSync(JSON.stringify({ batch, sentAt: new Date().toISOString() })), { 'content-encoding': 'gzip' });
    expect(mixed.status).toBe(200);
    expect(await mixed.json()).toMatchObject({ success: true, accepted: 99, rejected: 1, errors: [{ index: 37, messageId: `mixed-${run}-37`, reason: 'schema_violation' }] });
    const through = await accepted(99, (event) => event.userId === `mixed-${run}`);
    expect(new Set(through.map((event) => event.messageId)).size).toBe(99);
    expect(through.some((event) => event.messageId === `mixed-${run}-37`)).toBe(false);
    expect(await rejected(1, (event) => event.messageId === `mixed-${run}-37` && event.via === 'http')).toHaveLength(1);

    // Every answer is timed, by status; so are the broker's acknowledgements behind the 200s.
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    for (const status of ['200', '400', '401', '413']) {
      expect(metrics).toMatch(new RegExp(`^kairos_collector_request_duration_seconds_count\\{[^}]*status="${status}"[^}]*\\} [1-9]`, 'm'));
    }
    expect(metrics).toMatch(/^kairos_kafka_produce_duration_seconds_count(\{[^}]*\})? [1-9]/m);
  });

  it('judges each event of a batch envelope produced straight to the raw topic', async () => {
    const userId = `envelope-${run}`;
    await producer.send(Topics.raw.name, [
      {
        key: userId,
        value: JSON.stringify({
          batch: [
            { type: 'track', event: 'First', userId, messageId: `env-${run}-0` },
            { type: 'track', userId, messageId: `env-${run}-1` },
            { type: 'page', userId, name: 'Home' },
          ],
          context: { locale: 'de-CH' },
        }),
      },
    ]);
    const events = await accepted(2, (event) => event.userId === userId);
    expect(events.map((event) => event.context?.['locale'])).toEqual(['de-CH', 'de-CH']);
    // The page had no messageId: it gets one from its position, batch index included, so a replay reproduces it.
    expect(events.find((event) => event.type === 'page')?.messageId).toMatch(new RegExp(`^kafka-${Topics.raw.name.replace(/\./g, '\\.')}-\\d+-\\d+-2$`));
    const [refused] = await rejected(1, (event) => event.messageId === `env-${run}-1` || (event.origin?.index === 1 && Buffer.from(event.payloadBase64, 'base64').toString().includes(`env-${run}-1`)));
    expect(refused).toMatchObject({ reason: 'schema_violation', via: 'kafka', origin: { index: 1 } });
  });

  it('accepts a full batch of 2,500 events near 500 KB, whose enriched envelope no longer fits one raw record', async () => {
    const userId = `full-${run}`;
    const event = { type: 'track', event: 'Viewed', userId, properties: { pad: 'p'.repeat(120) } };
    const body = JSON.stringify({ batch: Array.from({ length: 2_500 }, () => event) });
    expect(Buffer.byteLength(body)).toBeGreaterThan(450 * 1024);
    const response = await post('/v1/batch', body);
    expect(await response.json()).toMatchObject({ success: true, accepted: 2_500, rejected: 0 });
    const events = await accepted(2_500, (candidate) => candidate.userId === userId, 60_000);
    expect(new Set(events.map((candidate) => candidate.messageId)).size).toBe(2_500);
  });

  it('emits a replayed messageId once, however it arrives', async () => {
    const event = { type: 'track', event: 'Paid', userId: `replay-${run}`, messageId: `replay-${run}` };
    for (let attempt = 0; attempt < 3; attempt++) expect((await post('/v1/batch', JSON.stringify({ batch: [event] }))).status).toBe(200);
    await producer.send(Topics.raw.name, [{ value: JSON.stringify(event), headers: { [RawEventHeaders.writeKey]: WRITE_KEY } }]);
    await post('/v1/track', JSON.stringify({ event: 'Marker', userId: `replay-${run}`, messageId: `marker-${run}` }));
    // The marker was sent after every copy; once it is through, every copy has been judged.
    const seen = await accepted(2, (accepted) => accepted.userId === `replay-${run}`);
    expect(seen.map((accepted) => accepted.messageId).sort()).toEqual([`marker-${run}`, `replay-${run}`]);
  });

  it('loses nothing and emits nothing twice across a restart in the middle of a stream', async () => {
    const total = 3_000;
    const userId = `restart-${run}`;
    const sending = (async () => {
      for (let offset = 0; offset < total; offset += 100) {
        await producer.send(Topics.raw.name, Array.from({ length: 100 }, (_, index) => ({ key: userId, value: JSON.stringify({ type: 'track', event: 'Tick', userId, messageId: `${userId}-${offset + index}` }) })));
      }
    })();
    await readTopic(kafkaBrokers, Topics.accepted.name, 1, 30_000, (record) => json(record).userId === userId);
    await service.stop();
    await sending;
    await start();
    await accepted(total, (event) => event.userId === userId, 60_000);
    // A marker behind the stream, on the same key and so the same partitions: once it is accepted, a second copy of
    // any event would have been accepted before it.
    await producer.send(Topics.raw.name, [{ key: userId, value: JSON.stringify({ type: 'track', event: 'Marker', userId, messageId: `${userId}-marker` }) }]);
    const events = await accepted(total + 1, (event) => event.userId === userId, 60_000);
    expect(events[events.length - 1]?.messageId).toBe(`${userId}-marker`);
    expect(new Set(events.map((event) => event.messageId)).size).toBe(total + 1);
  });
});
