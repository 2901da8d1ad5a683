import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RawEventHeaders, RejectedEvent, RejectionReason, SegmentEventType } from '@kairos/contracts';
import { judgeEvent } from '@kairos/intake';
import { OutgoingRecord } from '@kairos/kafka';
import { ingestionMetrics } from '../ingestion-metrics';
import { INGESTION_SETTINGS, IngestionSettings } from '../ingestion.settings';
import { EventLogRepository } from '../intake/event-log.repository';
import { Source } from '../sources/source-registry';

export interface Delivery {
  source: Source;
  receivedAt: Date;
  ip: string | undefined;
  /** The HTTP client's User-Agent, for events whose context has none (server SDKs rarely set one). */
  userAgent?: string;
  /** sentAt of a batch request, for events without their own. */
  batchSentAt?: string;
}

export type EventResult =
  | { index: number; messageId: string; status: 'accepted' }
  | { index: number; messageId?: string; status: 'rejected'; reason: RejectionReason; detail: string };

/**
 * Takes the events of one request: checks each one as the intake will, writes the valid ones to the raw topic as one
 * record (the batch envelope SDKs post, so a 100-event request costs one Kafka record, not 100), the others to the
 * rejected topic, and resolves once the broker has acknowledged both. The answer says, per event, accepted or rejected
 * and why (Segment itself answers 200 and drops bad events silently).
 */
@Injectable()
export class CollectEventsUseCase {
  constructor(
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
    @Inject(EventLogRepository) private readonly eventLog: EventLogRepository,
  ) {}

  get backPressured(): boolean {
    return this.eventLog.pendingBytes > this.settings.maxPendingBytes;
  }

  async execute(events: readonly unknown[], delivery: Delivery, forcedType?: SegmentEventType): Promise<EventResult[]> {
    const valid: Array<{ payload: string; key: string | undefined }> = [];
    const rejected: RejectedEvent[] = [];
    const results: EventResult[] = events.map((candidate, index) => {
      const typed = forcedType && isObject(candidate) ? { ...candidate, type: forcedType } : candidate;
      const event = isObject(typed) ? enrich(typed, delivery) : typed;
      const messageId = isObject(event) && typeof event['messageId'] === 'string' ? event['messageId'] : undefined;
      const { outcome, payload } = judgeEvent(event, this.settings.limits, 'http');
      if (outcome.ok) {
        valid.push({ payload, key: personKey(outcome.value.userId ?? outcome.value.anonymousId) });
        return { index, messageId: messageId as string, status: 'accepted' };
      }
      rejected.push({
        reason: outcome.reason,
        detail: outcome.detail,
        sourceId: delivery.source.id,
        ...(messageId ? { messageId } : {}),
        rejectedAt: delivery.receivedAt.toISOString(),
        via: 'http',
        payloadBase64: Buffer.from(payload).toString('base64'),
      });
      return { index, ...(messageId ? { messageId } : {}), status: 'rejected', reason: outcome.reason, detail: outcome.detail };
    });
    await Promise.all([this.appendRaw(valid, delivery), this.eventLog.appendRejected(rejected)]);
    for (const result of results) if (result.status === 'rejected') ingestionMetrics().rejected.add(1, { reason: result.reason, via: 'http' });
    return results;
  }

  /**
   * The events are already JSON text; the envelope is put around them without parsing or serialising them again —
   * around a single event's too: written bare, an event with a field named "batch" (the spec is open) would read as
   * an envelope at the intake, and its inner "events" would never have been judged here.
   * Keyed by the first event's person: a browser SDK's batch is one person's, so their events stay in order; a
   * server SDK's batch mixes people, whose relative order Segment does not promise either.
   */
  private appendRaw(valid: Array<{ payload: string; key: string | undefined }>, delivery: Delivery): Promise<void> {
    if (valid.length === 0) return Promise.resolve();
    const headers = this.headers(delivery);
    const sentAt = delivery.batchSentAt ? `,"sentAt":${JSON.stringify(delivery.batchSentAt)}` : '';
    // Enrichment (messageIds, user agent) can grow a full request past the intake's record limit: split if so.
    const records: OutgoingRecord[] = [];
    let chunk: typeof valid = [];
    let bytes = 0;
    const flush = () => {
      records.push({ key: chunk[0].key ?? null, value: `{"batch":[${chunk.map((event) => event.payload).join(',')}]${sentAt}}`, headers });
      chunk = [];
      bytes = 0;
    };
    for (const event of valid) {
      const size = Buffer.byteLength(event.payload) + 1;
      if (chunk.length > 0 && bytes + size > this.settings.limits.maxBatchBytes - 1_024) flush();
      chunk.push(event);
      bytes += size;
    }
    flush();
    return this.eventLog.appendRaw(records);
  }

  /** A body that could not be read at all still leaves a trace on the rejected topic. */
  async recordUnreadable(body: Buffer, reason: RejectionReason, detail: string, delivery: Delivery): Promise<void> {
    await this.eventLog.appendRejected([
      { reason, detail, sourceId: delivery.source.id, rejectedAt: delivery.receivedAt.toISOString(), via: 'http', payloadBase64: body.toString('base64') },
    ]);
    ingestionMetrics().rejected.add(1, { reason, via: 'http' });
  }

  private headers(delivery: Delivery): Record<string, string> {
    return {
      [RawEventHeaders.sourceId]: delivery.source.id,
      [RawEventHeaders.receivedAt]: delivery.receivedAt.toISOString(),
      ...(delivery.ip && delivery.source.collectIp ? { [RawEventHeaders.ip]: delivery.ip } : {}),
    };
  }
}

/** What the collector adds to an event it is about to write: a messageId when absent, the client's user agent. */
function enrich(event: Record<string, unknown>, delivery: Delivery): Record<string, unknown> {
  const enriched: Record<string, unknown> = { ...event };
  if (event['messageId'] === undefined) enriched['messageId'] = randomUUID();
  const context = isObject(event['context']) ? event['context'] : undefined;
  if (delivery.userAgent && context?.['userAgent'] === undefined && (context || event['context'] === undefined)) {
    enriched['context'] = { ...context, userAgent: delivery.userAgent };
  }
  return enriched;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function personKey(id: string | number | undefined): string | undefined {
  return id === undefined ? undefined : String(id).trim();
}
