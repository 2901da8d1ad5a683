import { Inject, Injectable } from '@nestjs/common';
import { AcceptedEvent, RejectedEvent, Topics } from '@kairos/contracts';
import { OutgoingRecord, RecordProducer } from '@kairos/kafka';

/** The only code of the ingestion service that writes to Kafka: raw, accepted and rejected events. */
@Injectable()
export class EventLogRepository {
  constructor(@Inject(RecordProducer) private readonly producer: RecordProducer) {}

  /** Resolves when the broker acknowledged every record (acks from all in-sync replicas). */
  appendRaw(records: OutgoingRecord[]): Promise<void> {
    return this.publishAll(Topics.raw.name, records);
  }

  appendAccepted(events: Array<{ key: string; event: AcceptedEvent }>): Promise<void> {
    return this.publishAll(Topics.accepted.name, events.map(({ key, event }) => ({ key, value: JSON.stringify(event) })));
  }

  appendRejected(events: RejectedEvent[]): Promise<void> {
    return this.publishAll(Topics.rejected.name, events.map((event) => ({ key: event.sourceId ?? null, value: JSON.stringify(event) })));
  }

  /** Bytes waiting for the broker; the collector answers 429 above its limit. */
  get pendingBytes(): number {
    return this.producer.pendingBytes;
  }

  private async publishAll(topic: string, records: OutgoingRecord[]): Promise<void> {
    await Promise.all(records.map((record) => this.producer.publish(topic, record)));
  }
}
