import { Inject, Injectable } from '@nestjs/common';
import { AcceptedEvent, RawEventHeaders, RejectedEvent, Topics } from '@kairos/contracts';
import { acceptedKey, acceptEvent, inspectEventBytes, Outcome, reject } from '@kairos/intake';
import { ConsumedRecord } from '@kairos/kafka';
import { ingestionMetrics } from '../ingestion-metrics';
import { INGESTION_SETTINGS, IngestionSettings } from '../ingestion.settings';
import { Source, SourceRegistry } from '../sources/source-registry';
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

/**
 * Raw records -> accepted or rejected, exactly one record out per record in, except replayed messageIds, which are
 * counted and not re-emitted. Events from the HTTP collector and from producers writing straight to the raw topic
 * take this same path, so both are judged identically.
 */
@Injectable()
export class IntakeRawEventsUseCase {
  constructor(
    @Inject(SourceRegistry) private readonly sources: SourceRegistry,
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
    @Inject(SeenMessagesRepository) private readonly seen: SeenMessagesRepository,
    @Inject(EventLogRepository) private readonly eventLog: EventLogRepository,
  ) {}

  async execute(records: readonly ConsumedRecord[]): Promise<IntakeSummary> {
    const candidates: Candidate[] = [];
    const rejected: RejectedEvent[] = [];
    for (const record of records) {
      const judged = this.judge(record);
      if (judged.ok) candidates.push(judged.value);
      else rejected.push(rejection(record, judged.reason, judged.detail, this.sourceIdOf(record)));
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

  private judge(record: ConsumedRecord): Outcome<Candidate> {
    const source = this.sourceOf(record);
    if (!source) return reject('unknown_source', this.unknownSourceDetail(record));
    const inspected = inspectEventBytes(record.value, this.settings.limits);
    if (!inspected.ok) return inspected;
    const receivedAt = new Date(record.headers[RawEventHeaders.receivedAt] ?? Number(record.timestamp));
    const accepted = acceptEvent(
      inspected.value,
      {
        sourceId: source.id,
        receivedAt,
        // Derived from the record's position, so a replay of the raw topic gives the event the same id.
        messageId: `kafka-${record.topic}-${record.partition}-${record.offset}`,
        batchSentAt: record.headers[RawEventHeaders.batchSentAt],
        ip: source.collectIp ? record.headers[RawEventHeaders.ip] : undefined,
      },
      this.settings.limits,
    );
    if (!accepted.ok) return accepted;
    const event = accepted.value;
    return {
      ok: true,
      value: { key: acceptedKey(event), event, sighting: { sourceId: source.id, messageId: event.messageId, partition: record.partition, offset: record.offset } },
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

  private sourceIdOf(record: ConsumedRecord): string | undefined {
    return this.sourceOf(record)?.id ?? record.headers[RawEventHeaders.sourceId];
  }

  private unknownSourceDetail(record: ConsumedRecord): string {
    if (record.headers[RawEventHeaders.sourceId]) return `no source with id ${record.headers[RawEventHeaders.sourceId]}`;
    if (record.headers[RawEventHeaders.writeKey]) return 'the kairos-write-key header names no source';
    return 'the record names no source and RAW_KAFKA_SOURCE_ID is empty';
  }
}

function rejection(record: ConsumedRecord, reason: RejectedEvent['reason'], detail: string, sourceId: string | undefined): RejectedEvent {
  return {
    reason,
    detail,
    ...(sourceId ? { sourceId } : {}),
    rejectedAt: new Date().toISOString(),
    via: 'kafka',
    origin: { topic: Topics.raw.name, partition: record.partition, offset: record.offset },
    payloadBase64: (record.value ?? Buffer.alloc(0)).toString('base64'),
  };
}
