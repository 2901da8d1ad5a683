import { Inject, Injectable } from '@nestjs/common';
import { AcceptedEvent, RawEventHeaders, RejectedEvent } from '@kairos/contracts';
import { acceptedKey, acceptEvent, inspectRawRecord, IntakeChannel, RawEntry } from '@kairos/intake';
import { ConsumedRecord } from '@kairos/kafka';
import { ingestionMetrics } from '../ingestion-metrics';
import { INGESTION_SETTINGS, IngestionSettings } from '../ingestion.settings';
import { INTERNAL_SOURCE_ID, Source, SourceRegistry } from '../sources/source-registry';
import { EventLogRepository } from './event-log.repository';
import { SeenMessagesRepository, Sighting, sightingKey } from './seen-messages.repository';

export interface IntakeSummary {
  accepted: number;
  rejected: number;
  duplicates: number;
}

interface Candidate {
  key: string;
  event: AcceptedEvent;
  sighting: Sighting;
}

/** The source of every event on the internal topic, whatever its headers say (a source of KAIROS_SOURCES cannot be it). */
export const INTERNAL_SOURCE: Source = { id: INTERNAL_SOURCE_ID, writeKey: '', collectIp: false };

/**
 * Raw records -> accepted or rejected: exactly one record out per event in (a raw record holds one event, or a batch
 * of them as the collector writes it), except replayed messageIds, which are counted and not re-emitted. Events from
 * the HTTP collector and from producers writing straight to the raw topic take this same path and are judged alike.
 */
@Injectable()
export class IntakeRawEventsUseCase {
  constructor(
    @Inject(SourceRegistry) private readonly sources: SourceRegistry,
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
    @Inject(SeenMessagesRepository) private readonly seen: SeenMessagesRepository,
    @Inject(EventLogRepository) private readonly eventLog: EventLogRepository,
  ) {}

  async execute(records: readonly ConsumedRecord[], channel: Exclude<IntakeChannel, 'http'>): Promise<IntakeSummary> {
    const candidates: Candidate[] = [];
    const rejected: RejectedEvent[] = [];
    for (const record of records) {
      const source = channel === 'internal' ? INTERNAL_SOURCE : this.sourceOf(record);
      if (!source) {
        rejected.push(rejection(record, undefined, 'unknown_source', this.unknownSourceDetail(record), record.headers[RawEventHeaders.sourceId], record.value));
        continue;
      }
      const payload = inspectRawRecord(record.value, this.settings.limits, channel);
      if (!payload.ok) {
        rejected.push(rejection(record, undefined, payload.reason, payload.detail, source.id, record.value));
        continue;
      }
      for (const entry of payload.value.entries) {
        const judged = this.accept(record, source, entry, payload.value.batchSentAt);
        if ('event' in judged) candidates.push(judged);
        else rejected.push(judged);
      }
    }

    // The same messageId twice within one batch: the first is the sighting, the rest are duplicates.
    const unique = new Map<string, Candidate>();
    for (const candidate of candidates) {
      const key = sightingKey(candidate.sighting.sourceId, candidate.sighting.messageId);
      if (!unique.has(key)) unique.set(key, candidate);
    }
    const first = await this.seen.firstSightings([...unique.values()].map((candidate) => candidate.sighting));
    const accepted = [...unique.entries()].filter(([key]) => first.has(key)).map(([, candidate]) => candidate);

    await Promise.all([this.eventLog.appendAccepted(accepted), this.eventLog.appendRejected(rejected)]);
    const metrics = ingestionMetrics();
    metrics.accepted.add(accepted.length);
    for (const event of rejected) metrics.rejected.add(1, { reason: event.reason, via: 'kafka' });
    const duplicates = candidates.length - accepted.length;
    metrics.duplicates.add(duplicates);
    return { accepted: accepted.length, rejected: rejected.length, duplicates };
  }

  private accept(record: ConsumedRecord, source: Source, entry: RawEntry, batchSentAt: string | undefined): Candidate | RejectedEvent {
    if (!entry.outcome.ok) return rejection(record, entry.index, entry.outcome.reason, entry.outcome.detail, source.id, Buffer.from(entry.payload));
    const position = `kafka-${record.topic}-${record.partition}-${record.offset}${entry.index === undefined ? '' : `-${entry.index}`}`;
    const accepted = acceptEvent(
      entry.outcome.value,
      {
        sourceId: source.id,
        receivedAt: new Date(record.headers[RawEventHeaders.receivedAt] ?? Number(record.timestamp)),
        // Derived from the event's position, so a replay of the raw topic gives it the same id.
        messageId: position,
        batchSentAt,
        ip: source.collectIp ? record.headers[RawEventHeaders.ip] : undefined,
      },
      this.settings.limits,
    );
    if (!accepted.ok) return rejection(record, entry.index, accepted.reason, accepted.detail, source.id, Buffer.from(entry.payload));
    const event = accepted.value;
    return {
      key: acceptedKey(event),
      event,
      sighting: { sourceId: source.id, messageId: event.messageId, partition: record.partition, offset: record.offset, index: entry.index ?? 0 },
    };
  }

  /** The collector names the source; other producers may present a write key; the rest belong to the Kafka source. */
  private sourceOf(record: ConsumedRecord): Source | undefined {
    const sourceId = record.headers[RawEventHeaders.sourceId];
    if (sourceId) return this.sources.bySourceId(sourceId);
    const writeKey = record.headers[RawEventHeaders.writeKey];
    if (writeKey) return this.sources.byWriteKey(writeKey);
    const fallback = this.settings.rawKafkaSourceId;
    return fallback ? { id: fallback, writeKey: '', collectIp: false } : undefined;
  }

  private unknownSourceDetail(record: ConsumedRecord): string {
    if (record.headers[RawEventHeaders.sourceId]) return `no source with id ${record.headers[RawEventHeaders.sourceId]}`;
    if (record.headers[RawEventHeaders.writeKey]) return 'the kairos-write-key header names no source';
    return 'the record names no source and RAW_KAFKA_SOURCE_ID is empty';
  }
}

function rejection(
  record: ConsumedRecord,
  index: number | undefined,
  reason: RejectedEvent['reason'],
  detail: string,
  sourceId: string | undefined,
  payload: Buffer | null,
): RejectedEvent {
  return {
    reason,
    detail,
    ...(sourceId ? { sourceId } : {}),
    rejectedAt: new Date().toISOString(),
    via: 'kafka',
    origin: { topic: record.topic, partition: record.partition, offset: record.offset, ...(index === undefined ? {} : { index }) },
    payloadBase64: (payload ?? Buffer.alloc(0)).toString('base64'),
  };
}
