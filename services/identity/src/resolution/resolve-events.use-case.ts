import { Inject, Injectable } from '@nestjs/common';
import { AcceptedEvent, ResolvedEvent } from '@kairos/contracts';
import { aliasTargets, extractIdentifiers, identifierKey, Observation } from '@kairos/identity-graph';
import { BatchOutcome, DecodedRecord, RecordRejection } from '@kairos/kafka';
import { GraphWriter } from '../graph/graph-writer';
import { IdentityLogRepository } from '../identity-log.repository';
import { identityMetrics } from '../identity-metrics';

/**
 * Accepted events -> resolved events keyed by profile, one batch at a time: load what the batch touches, resolve
 * each event in order with the pure core, write the graph changes, publish the resolved events and merges — all
 * before the transaction commits, so a crash anywhere means the batch is redone, never half-applied. A redone batch
 * resolves the same way (the graph already holds its links) and publishes the same records again, which carry the
 * same messageIds and merge keys for later stages to de-duplicate.
 */
@Injectable()
export class ResolveEventsUseCase {
  constructor(
    @Inject(GraphWriter) private readonly writer: GraphWriter,
    @Inject(IdentityLogRepository) private readonly log: IdentityLogRepository,
  ) {}

  execute(records: readonly DecodedRecord<AcceptedEvent>[]): Promise<BatchOutcome> {
    return this.writer.run(async (transaction) => {
      const { graph } = this.writer;
      const metrics = identityMetrics();
      const items: Array<{ record: DecodedRecord<AcceptedEvent>; observation: Observation }> = [];
      for (const record of records) {
        const observation = observe(record.data);
        const carried = [...observation.identifiers, ...aliasTargets(record.data)];
        // An erased customer stays erased: their events (live or replayed) do not found a profile again.
        if (carried.some((identifier) => this.writer.isSuppressed(identifier))) metrics.suppressed.add(1);
        else items.push({ record, observation });
      }
      const observations = items.map((item) => item.observation);
      const unknown = graph.unknownKeys(observations);
      metrics.cacheMisses.add(unknown.length);
      graph.learnIdentifiers(await transaction.loadIdentifiers(unknown));
      const batchKeys = new Set(unknown);
      for (const observation of observations) for (const identifier of observation.identifiers) batchKeys.add(identifierKey(identifier));
      graph.learnProfiles(await transaction.loadProfiles(graph.unknownProfiles(batchKeys)));

      const resolved: ResolvedEvent[] = [];
      const rejected: RecordRejection[] = [];
      for (const { record, observation } of items) {
        const resolution = graph.resolve(observation);
        if (resolution.status === 'resolved') {
          resolved.push({ ...record.data, profileId: resolution.profileId, resolution: resolution.resolution });
        } else {
          const ignored = resolution.ignored.map((identifier) => `${identifier.type} "${identifier.value}" (${identifier.reason})`).join(', ');
          rejected.push({ record, detail: `no usable identifier${ignored ? `: ${ignored}` : ''}` });
        }
      }
      const changes = graph.takeChanges();
      await transaction.write(changes);
      await Promise.all([this.log.appendResolved(resolved), this.log.appendMerges(changes.merges)]);

      metrics.resolved.add(resolved.length);
      metrics.unresolved.add(rejected.length);
      for (const merge of changes.merges) metrics.merges.add(1, { reason: merge.reason });
      return { rejected };
    });
  }
}

/** What the graph needs of an accepted event. */
export function observe(event: AcceptedEvent): Observation {
  return {
    // messageIds are unique per source (the intake de-duplicates on the pair).
    eventId: `${event.sourceId}/${event.messageId}`,
    messageId: event.messageId,
    receivedAt: Date.parse(event.receivedAt),
    at: Date.parse(event.timestamp),
    identifiers: extractIdentifiers(event),
    ...(event.type === 'alias' && event.identifiers.previousId ? { previousId: event.identifiers.previousId } : {}),
  };
}
