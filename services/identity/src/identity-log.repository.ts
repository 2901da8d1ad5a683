import { Inject, Injectable } from '@nestjs/common';
import { ProfileMerge, ResolvedEvent, Topics } from '@kairos/contracts';
import { OutgoingRecord, RecordProducer } from '@kairos/kafka';
import { RecordedErasure } from './graph/identity-graph.repository';

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
   * What an erasure publishes: the suppressed identifiers (compacted, so a replay still knows them), a tombstone for
   * each erased profile on the merges topic (the only compacted topic identity owns; segmentation tombstones its
   * snapshots), and the erasure once per profile id, keyed by it, so that it reaches the partition of every profile.
   */
  async appendErasure({ erasure, suppressed }: RecordedErasure): Promise<void> {
    await this.publishAll(Topics.suppressions.name, suppressed.map((entry) => ({ key: entry.hash, value: JSON.stringify(entry) })));
    const value = JSON.stringify(erasure);
    await Promise.all([
      this.publishAll(Topics.merges.name, erasure.profileIds.map((profileId) => ({ key: profileId, value: null }))),
      this.publishAll(Topics.erasures.name, erasure.profileIds.map((profileId) => ({ key: profileId, value }))),
    ]);
  }

  private async publishAll(topic: string, records: OutgoingRecord[]): Promise<void> {
    await Promise.all(records.map((record) => this.producer.publish(topic, record)));
  }
}
