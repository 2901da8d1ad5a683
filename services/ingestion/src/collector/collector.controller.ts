import { Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { SegmentEventType } from '@kairos/contracts';
import { withBatchDefaults } from '@kairos/intake';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ingestionMetrics } from '../ingestion-metrics';
import { INGESTION_SETTINGS, IngestionSettings } from '../ingestion.settings';
import { Source, SourceRegistry } from '../sources/source-registry';
import { CollectEventsUseCase, Delivery } from './collect-events.use-case';
import { BodyError, parseRequestBody } from './request-body';

const SINGLE: readonly SegmentEventType[] = ['track', 'identify', 'page', 'screen', 'group', 'alias'];
const BATCH = ['batch', 'import'];

/**
 * The Segment HTTP tracking API: POST /v1/{track,identify,page,screen,group,alias,batch,import}, authenticated by a
 * source's write key as HTTP Basic user name (or writeKey in the body, as Segment also accepts). 200 means every
 * accepted event is durably in Kafka; batches get a per-event answer. 400 unreadable, 401 unknown key (nothing is
 * stored), 413 too large, 429 back-pressure, 503 broker unavailable.
 */
@Controller('v1')
export class CollectorController {
  constructor(
    @Inject(CollectEventsUseCase) private readonly collect: CollectEventsUseCase,
    @Inject(SourceRegistry) private readonly sources: SourceRegistry,
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
  ) {}

  @Post(':endpoint')
  async receive(@Param('endpoint') endpoint: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const answer = (status: number, body: object) => {
      ingestionMetrics().requests.add(1, { endpoint, status: String(status) });
      void reply.status(status).send(body);
    };
    const isBatch = BATCH.includes(endpoint);
    if (!isBatch && !SINGLE.includes(endpoint as SegmentEventType)) return answer(404, { success: false, error: `unknown endpoint /v1/${endpoint}` });

    const headerKey = basicAuthUser(request.headers.authorization);
    let source: Source | undefined = this.sources.byWriteKey(headerKey);
    if (headerKey !== undefined && !source) return answer(401, { success: false, error: 'unknown write key' });
    if (this.collect.backPressured) {
      reply.header('retry-after', '1');
      return answer(429, { success: false, error: 'the event log is saturated; retry after 1 s' });
    }

    const receivedAt = new Date();
    const limit = isBatch ? this.settings.limits.maxBatchBytes : this.settings.limits.maxEventBytes;
    const rawBody = Buffer.isBuffer(request.body) ? request.body : undefined;
    let body: unknown;
    try {
      body = parseRequestBody(rawBody, header(request.headers['content-encoding']), limit);
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      if (source && error.status === 400 && rawBody) {
        await this.collect.recordUnreadable(rawBody, error.reason as 'invalid_json', error.message, { source, receivedAt, ip: request.ip });
      }
      return answer(source ? error.status : 401, source ? { success: false, reason: error.reason, error: error.message } : { success: false, error: 'missing write key' });
    }
    source ??= this.sources.byWriteKey(isRecord(body) && typeof body['writeKey'] === 'string' ? body['writeKey'] : undefined);
    if (!source) return answer(401, { success: false, error: headerKey === undefined ? 'missing write key' : 'unknown write key' });

    const delivery: Delivery = { source, receivedAt, ip: request.ip, userAgent: header(request.headers['user-agent']) };
    try {
      if (!isBatch) {
        const [result] = await this.collect.execute([withoutWriteKey(body)], delivery, endpoint as SegmentEventType);
        return result.status === 'accepted'
          ? answer(200, { success: true, messageId: result.messageId })
          : answer(400, { success: false, reason: result.reason, error: result.detail });
      }
      if (!isRecord(body) || !Array.isArray(body['batch'])) return answer(400, { success: false, reason: 'schema_violation', error: 'a batch body is {"batch": [events]}' });
      const events = body['batch'];
      if (events.length > this.settings.limits.maxBatchEvents) {
        return answer(413, { success: false, reason: 'size_violation', error: `${events.length} events; at most ${this.settings.limits.maxBatchEvents} per batch` });
      }
      delivery.batchSentAt = typeof body['sentAt'] === 'string' ? body['sentAt'] : undefined;
      const results = await this.collect.execute(events.map((event) => withBatchDefaults(event, body)), delivery);
      const errors = results.filter((result) => result.status === 'rejected');
      return answer(200, { success: true, accepted: results.length - errors.length, rejected: errors.length, errors });
    } catch (error) {
      reply.header('retry-after', '5');
      return answer(503, { success: false, error: `the event log did not acknowledge: ${(error as Error).message}` });
    }
  }
}

function basicAuthUser(authorization: string | undefined): string | undefined {
  if (!authorization?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  return separator === -1 ? decoded : decoded.slice(0, separator);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withoutWriteKey(body: unknown): unknown {
  if (!isRecord(body) || !('writeKey' in body)) return body;
  const { writeKey: _writeKey, ...event } = body;
  return event;
}

