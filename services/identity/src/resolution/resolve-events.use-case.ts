import { Inject, Injectable } from '@nestjs/common';
import { AcceptedEvent, Identifier, ProfileMerge, ResolvedEvent } from '@kairos/contracts';
import { aliasTargets, extractIdentifiers, identifierKey, IdentifierTypes, Observation } from '@kairos/identity-graph';
import { BatchContext, BatchOutcome, DecodedRecord, RecordRejection } from '@kairos/kafka';
import { GraphWriter } from '../graph/graph-writer';
import { GraphTransaction } from '../graph/identity-graph.repository';
import { IdentityLogRepository } from '../identity-log.repository';
import { identityMetrics } from '../identity-metrics';
import { BatchOutputs, RecordOutput } from './record-output';

type AcceptedRecord = DecodedRecord<AcceptedEvent>;

/**
 * Accepted events -> resolved events keyed by profile, one batch of a partition at a time. In one transaction under
 * the graph lock: bring the cache up to date, skip the records whose offsets the graph already reflects, load what
 * the others touch, resolve them in order with the pure core, write the graph changes together with the offsets
 * and every record's output. Commit; then publish and wait for the broker, holding nothing; the consumer commits
 * the offsets once this returns. A crash or a failed publish after the commit redelivers the batch: its records
 * are found applied, and their stored outputs are published again — same messageIds, profile ids and merge keys —
 * instead of being resolved a second time.
 */
@Injectable()
export class ResolveEventsUseCase {
  constructor(
    @Inject(GraphWriter) private readonly writer: GraphWriter,
    @Inject(IdentityLogRepository) private readonly log: IdentityLogRepository,
  ) {}

  async execute(records: readonly AcceptedRecord[], context: Pick<BatchContext, 'topic' | 'partition'>): Promise<BatchOutcome> {
    const observations = new Map(records.map((record) => [record.offset, observe(record.data)]));
    // Cache misses are read before taking the lock, while another batch holds it: the lock is the bottleneck.
    const prefetched = await this.writer.prefetch(this.writer.graph.unknownKeys([...observations.values()]));
    const outputs = await this.writer.run((transaction) => this.apply(transaction, context, records, observations), prefetched);

    const resolved: ResolvedEvent[] = [];
    const merges: ProfileMerge[] = [];
    const rejected: RecordRejection[] = [];
    for (const record of records) {
      const output = outputs.get(record.offset);
      if (!output) throw new Error(`no output for ${record.topic}#${record.partition}@${record.offset}`); // apply() gives one per record
      if ('profileId' in output) {
        resolved.push({ ...record.data, profileId: output.profileId, resolution: output.resolution });
        merges.push(...(output.merges ?? []));
      } else if ('rejected' in output) {
        rejected.push({ record, detail: output.rejected });
      }
    }
    await Promise.all([this.log.appendResolved(resolved), this.log.appendMerges(merges)]);
    return { rejected };
  }

  private async apply(
    transaction: GraphTransaction,
    { topic, partition }: Pick<BatchContext, 'topic' | 'partition'>,
    records: readonly AcceptedRecord[],
    observations: ReadonlyMap<string, Observation>,
  ): Promise<Map<string, RecordOutput>> {
    const outputs = await transaction.appliedOutputs(topic, partition, records.map((record) => record.offset));
    const fresh = records.filter((record) => !outputs.has(record.offset));
    if (fresh.length === 0) return outputs;

    const { graph } = this.writer;
    const metrics = identityMetrics();
    const applied: BatchOutputs = {};
    const items: Array<{ record: AcceptedRecord; observation: Observation }> = [];
    for (const record of fresh) {
      const observation = observations.get(record.offset) ?? observe(record.data);
      const carried = [...observation.identifiers, ...aliasTargets(record.data), ...addressOf(record.data)];
      // An erased customer stays erased: their events (live or replayed) do not found a profile again.
      if (carried.some((identifier) => this.writer.isSuppressed(identifier))) applied[record.offset] = { suppressed: true };
      else items.push({ record, observation });
    }
    const observed = items.map((item) => item.observation);
    const unknown = graph.unknownKeys(observed);
    metrics.cacheMisses.add(unknown.length);
    graph.learnIdentifiers(await transaction.loadIdentifiers(unknown));
    const batchKeys = new Set(unknown);
    for (const observation of observed) for (const identifier of observation.identifiers) batchKeys.add(identifierKey(identifier));
    graph.learnProfiles(await transaction.loadProfiles(graph.unknownProfiles(batchKeys)));
    const addressed = items.flatMap(({ record }) => (record.data.identifiers.profileId === undefined ? [] : [record.data.identifiers.profileId]));
    const stored = await transaction.survivorsOf([...new Set(addressed)]);

    for (const { record, observation } of items) {
      const address = record.data.identifiers.profileId;
      if (address !== undefined) {
        // Kairos' own event for a profile it knows by id: to that profile's survivor, in batch order (a merge earlier
        // in the batch counts), linking nothing. An id the graph does not know yet (a replay that reads this partition
        // ahead of the one that founds the profile) stands as given; the founding or merge that follows folds it.
        const resolution = { matched: addressOf(record.data), linked: [], ignored: [], mergedProfileIds: [] };
        applied[record.offset] = { profileId: graph.survivorOf(address, stored.get(address)), resolution };
        continue;
      }
      const resolution = graph.resolve(observation);
      if (resolution.status === 'resolved') {
        const { profileId, merges } = resolution;
        applied[record.offset] = { profileId, resolution: resolution.resolution, ...(merges.length > 0 ? { merges } : {}) };
        for (const merge of merges) metrics.merges.add(1, { reason: merge.reason });
      } else {
        const ignored = resolution.ignored.map((identifier) => `${identifier.type} "${identifier.value}" (${identifier.reason})`).join(', ');
        applied[record.offset] = { rejected: `no usable identifier${ignored ? `: ${ignored}` : ''}` };
      }
    }
    await transaction.write(graph.takeChanges());
    await transaction.recordBatch(topic, partition, applied);

    for (const output of Object.values(applied)) metrics['profileId' in output ? 'resolved' : 'rejected' in output ? 'unresolved' : 'suppressed'].add(1);
    for (const [offset, output] of Object.entries(applied)) outputs.set(offset, output);
    return outputs;
  }
}

/** The profile an event of Kairos' own is addressed to (context.kairos), as an identifier: none for any other event. */
function addressOf(event: AcceptedEvent): Identifier[] {
  return event.identifiers.profileId === undefined ? [] : [{ type: IdentifierTypes.profileId, value: event.identifiers.profileId }];
}

/** What the graph needs of an accepted event (nothing to match or link for one addressed to a profile by id). */
export function observe(event: AcceptedEvent): Observation {
  return {
    // messageIds are unique per source (the intake de-duplicates on the pair).
    eventId: `${event.sourceId}/${event.messageId}`,
    messageId: event.messageId,
    receivedAt: Date.parse(event.receivedAt),
    at: Date.parse(event.timestamp),
    identifiers: event.identifiers.profileId === undefined ? extractIdentifiers(event) : [],
    ...(event.type === 'alias' && event.identifiers.previousId ? { previousId: event.identifiers.previousId } : {}),
  };
}
