import { Inject, Injectable } from '@nestjs/common';
import { ProfileErasure, ProfileMerge, ResolvedEvent, SuppressedIdentifier, Topics } from '@kairos/contracts';
import { OutgoingRecord, RecordProducer } from '@kairos/kafka';

/** The only code of the identity service that writes to Kafka. Every method resolves once the broker acknowledged. */
@Injectable()
export class IdentityLogRepository {
  constructor(@Inject(RecordProducer) private readonly producer: RecordProducer) {}

  appendResolved(events: readonly ResolvedEvent[]): Promise<void> {
    return this.publishAll(Topics.resolved.name, events.map((event) => ({ key: event.profileId, value: JSON.stringify(event) })));
  }

  appendMerges(merges: readonly ProfileMerge[]): Promise<void> {
    return this.publishAll(Topics.merges.name, merges.map((merge) => ({ key: merge.loserId, value: JSON.stringify(merge) })));
  }

  /**
   * What an erasure publishes: the suppressed identifiers (compacted, so a replay still knows them), tombstones for
   * the erased profiles' keys on the compacted topics, and the erasure itself for every later stage.
   */
  async appendErasure(erasure: ProfileErasure, survivorId: string, suppressed: readonly SuppressedIdentifier[]): Promise<void> {
    await this.publishAll(Topics.suppressions.name, suppressed.map((entry) => ({ key: entry.hash, value: JSON.stringify(entry) })));
    const tombstones = erasure.profileIds.map((profileId) => ({ key: profileId, value: null }));
    await Promise.all([
      this.publishAll(Topics.merges.name, tombstones),
      this.publishAll(Topics.profileSnapshots.name, tombstones),
      this.publishAll(Topics.erasures.name, [{ key: survivorId, value: JSON.stringify(erasure) }]),
    ]);
  }

  private async publishAll(topic: string, records: OutgoingRecord[]): Promise<void> {
    await Promise.all(records.map((record) => this.producer.publish(topic, record)));
  }
}
