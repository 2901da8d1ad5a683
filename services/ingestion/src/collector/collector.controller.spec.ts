import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DEFAULT_LIMITS } from '@kairos/intake';
import { INGESTION_SETTINGS, IngestionSettings } from '../ingestion.settings';
import { EventLogRepository } from '../intake/event-log.repository';
import { SourceRegistry } from '../sources/source-registry';
import { CollectEventsUseCase } from './collect-events.use-case';
import { CollectorController } from './collector.controller';
import { configureCollectorHttp } from './http-setup';

const WRITE_KEY = 'controller_spec_key_0123456789';
const settings: IngestionSettings = { limits: DEFAULT_LIMITS, rawKafkaSourceId: 'kafka', dedupeWindowHours: 48, maxPendingBytes: 1_000 };

/** A plain fake of the event log: the controller and use case are tested without Kafka. */
class FakeEventLog {
  pendingBytes = 0;
  failWith: Error | undefined;
  raw: unknown[] = [];
  rejected: unknown[] = [];
  async appendRaw(records: unknown[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.raw.push(...records);
  }
  async appendRejected(events: unknown[]): Promise<void> {
    this.rejected.push(...events);
  }
}

describe('CollectorController (Fastify in process, fake event log)', () => {
  const eventLog = new FakeEventLog();
  let app: NestFastifyApplication;

  beforeAll(async () => {
    @Module({
      controllers: [CollectorController],
      providers: [
        CollectEventsUseCase,
        { provide: EventLogRepository, useValue: eventLog },
        { provide: SourceRegistry, useValue: new SourceRegistry([{ id: 'web', writeKey: WRITE_KEY, collectIp: false }]) },
        { provide: INGESTION_SETTINGS, useValue: settings },
      ],
    })
    class CollectorSpecModule {}
    app = await NestFactory.create<NestFastifyApplication>(CollectorSpecModule, new FastifyAdapter(), { logger: false, bodyParser: false });
    configureCollectorHttp(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());
  beforeEach(() => {
    eventLog.pendingBytes = 0;
    eventLog.failWith = undefined;
  });

  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    app.getHttpAdapter().getInstance().inject({ method: 'POST', url, payload, headers: { authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`, ...headers } });

  it('answers 429 with Retry-After and writes nothing while the event log is back-pressured', async () => {
    eventLog.pendingBytes = settings.maxPendingBytes + 1;
    const before = eventLog.raw.length;
    const response = await post('/v1/track', JSON.stringify({ event: 'e', userId: 'u' }));
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('1');
    expect(eventLog.raw.length).toBe(before);
  });

  it('answers 503 with Retry-After when the broker does not acknowledge', async () => {
    eventLog.failWith = new Error('broker down');
    const response = await post('/v1/batch', JSON.stringify({ batch: [{ type: 'page', userId: 'u' }] }));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toMatchObject({ success: false, error: 'the event log did not acknowledge: broker down' });
  });

  it('answers CORS pre-flights for browser SDKs from any origin, without credentials', async () => {
    const response = await app.getHttpAdapter().getInstance().inject({
      method: 'OPTIONS',
      url: '/v1/batch',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(response.statusCode).toBe(204);
    const cors = Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.startsWith('access-control-')));
    expect(cors).toEqual({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type, content-encoding',
      'access-control-max-age': '86400',
    });
  });

  it('lets a browser read the answer to a cross-origin post, without credentials', async () => {
    const response = await post('/v1/track', JSON.stringify({ event: 'e', anonymousId: 'a' }), { origin: 'https://shop.example', 'content-type': 'text/plain' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('reads text/plain bodies, as browser SDKs send them to avoid pre-flights', async () => {
    const response = await post('/v1/track', JSON.stringify({ event: 'e', anonymousId: 'a' }), { 'content-type': 'text/plain' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ success: true });
  });

  it('writes a single event as a batch envelope, so a field of it named "batch" stays the event\'s data', async () => {
    const before = eventLog.raw.length;
    const smuggled = [{ type: 'identify', context: { kairos: { profileId: '0b7c2f7e-3c1d-4a5e-9f00-1234567890ab' } } }];
    const response = await post('/v1/identify', JSON.stringify({ userId: 'u', messageId: 'm-1', batch: smuggled }));
    expect(response.statusCode).toBe(200);
    const [record] = eventLog.raw.slice(before) as Array<{ value: string }>;
    expect(JSON.parse(record.value)).toEqual({ batch: [expect.objectContaining({ type: 'identify', userId: 'u', messageId: 'm-1', batch: smuggled })] });
  });

  it('answers 404 for an endpoint that is not part of the tracking API', async () => {
    expect((await post('/v1/purchase', '{}')).statusCode).toBe(404);
  });
});
