import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RawEventHeaders, RejectedEvent, RejectionReason, SegmentEventType } from '@kairos/contracts';
import { exceedsDepth, inspectEvent } from '@kairos/intake';
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
 * Takes the events of one request: checks each one as the intake will, writes the valid ones to the raw topic and the
 * others to the rejected topic, and resolves once the broker has acknowledged all of them. The answer says, per event,
 * accepted or rejected and why (Segment itself answers 200 and drops bad events silently).
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
    const raw: OutgoingRecord[] = [];
    const rejected: RejectedEvent[] = [];
    const results: EventResult[] = events.map((candidate, index) => {
      const event = forcedType && isObject(candidate) ? { ...candidate, type: forcedType } : candidate;
      const refuse = (reason: RejectionReason, detail: string, payload: string, messageId?: string): EventResult => {
        rejected.push({
          reason,
          detail,
          sourceId: delivery.source.id,
          ...(messageId ? { messageId } : {}),
          rejectedAt: delivery.receivedAt.toISOString(),
          via: 'http',
          payloadBase64: Buffer.from(payload).toString('base64'),
        });
        return { index, ...(messageId ? { messageId } : {}), status: 'rejected', reason, detail };
      };
      if (exceedsDepth(event, this.settings.limits.maxDepth)) {
        return refuse('depth_violation', `nested deeper than ${this.settings.limits.maxDepth}`, stringifyOrEmpty(event));
      }
      const withId = isObject(event) ? enrich(event, delivery) : event;
      const payload = JSON.stringify(withId);
      const messageId = isObject(withId) && typeof withId['messageId'] === 'string' ? withId['messageId'] : undefined;
      if (Buffer.byteLength(payload) > this.settings.limits.maxEventBytes) {
        return refuse('size_violation', `event is ${Buffer.byteLength(payload)} bytes; at most ${this.settings.limits.maxEventBytes}`, payload, messageId);
      }
      const inspected = inspectEvent(withId, this.settings.limits);
      if (!inspected.ok) return refuse(inspected.reason, inspected.detail, payload, messageId);
      raw.push({ key: partitionKey(inspected.value.userId ?? inspected.value.anonymousId), value: payload, headers: this.headers(delivery) });
      return { index, messageId: messageId as string, status: 'accepted' };
    });
    await Promise.all([this.eventLog.appendRaw(raw), this.eventLog.appendRejected(rejected)]);
    for (const result of results) if (result.status === 'rejected') ingestionMetrics().rejected.add(1, { reason: result.reason, via: 'http' });
    return results;
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
      ...(delivery.batchSentAt ? { [RawEventHeaders.batchSentAt]: delivery.batchSentAt } : {}),
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

/** A value nested tens of thousands deep overflows JSON.stringify's recursion; its trace is then empty. */
function stringifyOrEmpty(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return '';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keyed by person, so one person's events stay in order through the intake. */
function partitionKey(id: string | number | undefined): string | null {
  return id === undefined ? null : String(id).trim();
}
