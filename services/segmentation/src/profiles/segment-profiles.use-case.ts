import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ResolvedEvent, Topics } from '@kairos/contracts';
import { BatchContext, DecodedRecord, endOffsets, keyPartition, KafkaClient, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { KAFKA } from '@kairos/service-runtime';
import { applyEvent, ChangeCause, emptyProfileState, evaluateSegments, Memberships, mergeProfiles, ProfileState } from '@kairos/segmentation';
import { Output, StateAccess, StatefulInput, StatefulProcessor, StateStore } from '@kairos/state-store';
import { DataSource } from 'typeorm';
import { SegmentationOutputsRepository } from './segmentation-outputs.repository';
import { SegmentRelease, SegmentsInForce } from './segments-in-force';

/** What the store keeps per profile. */
export interface SegmentationState {
  profile: ProfileState;
  memberships: Memberships;
}

/** The one durable timer per profile: due when its segments can next change without a new event. */
export const SEGMENTS_TIMER = 'segments';

/** Event time of a resolved event: its own timestamp (what a replay follows), else the broker's. */
export function eventTimeOf(record: DecodedRecord<ResolvedEvent>): number {
  const parsed = Date.parse(record.data.timestamp);
  return Number.isNaN(parsed) ? Number(record.timestamp) : parsed;
}

/**
 * The ordered path of every profile: resolved events and the profile's segment timer go through `apply` one at a
 * time per partition (a StatefulProcessor over the `profiles` StateStore), which calls only the pure segmentation
 * core. Outputs are published before the state commits (the processor's contract); their ids are deterministic.
 *
 * Merges: the state of a loser named in `resolution.mergedProfileIds` is folded in when it lives on the same
 * partition as the survivor. A loser on another partition is not folded yet (see the README: the open part).
 */
@Injectable()
export class SegmentProfilesUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('segmentation');
  private readonly store: StateStore<SegmentationState>;
  private readonly processor: StatefulProcessor<SegmentationState, ResolvedEvent>;
  private partitions = 0;

  constructor(
    @Inject(DataSource) dataSource: DataSource,
    @Inject(RecordProducer) producer: RecordProducer,
    @Inject(PartitionOwnership) ownership: PartitionOwnership,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(SegmentsInForce) private readonly segmentsInForce: SegmentsInForce,
    @Inject(SegmentationOutputsRepository) private readonly outputs: SegmentationOutputsRepository,
  ) {
    this.store = new StateStore<SegmentationState>({ dataSource, name: 'profiles' });
    // Constructed before the consumer joins its group: the processor must hear of the first assignment.
    this.processor = new StatefulProcessor<SegmentationState, ResolvedEvent>({
      store: this.store,
      producer,
      ownership,
      topics: [Topics.resolved.name],
      keyOf: (record) => record.data.profileId,
      eventTime: eventTimeOf,
      apply: (input, state) => this.apply(input, state),
      endOffsets: (topic) => endOffsets(kafka, topic),
      log: (level, message) => (level === 'info' ? this.logger.log(message) : this.logger[level](message)),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.partitions = (await endOffsets(this.kafka, Topics.resolved.name)).size;
    this.processor.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.processor.stop();
  }

  execute(records: DecodedRecord<ResolvedEvent>[], context: BatchContext): Promise<void> {
    return this.processor.handleBatch(records, context);
  }

  /** One input of one profile: a resolved event, or its segment timer coming due. */
  async apply(input: StatefulInput<ResolvedEvent>, access: StateAccess<SegmentationState>): Promise<Output[]> {
    const release = this.segmentsInForce.current();
    if (input.kind === 'timer') {
      const current = await access.get(input.key);
      if (!current) return [];
      return this.evaluate(current, release, input.at, { kind: 'timer' }, access, false);
    }
    const event = input.record.data;
    const outputs: Output[] = [];
    let current = (await access.get(input.key)) ?? { profile: emptyProfileState(input.key), memberships: {} };
    let merged = false;
    for (const loserId of event.resolution?.mergedProfileIds ?? []) {
      // Only a loser whose state this partition owns; another partition's state has another writer.
      if (loserId === input.key || keyPartition(loserId, this.partitions) !== input.record.partition) continue;
      const loser = await access.get(loserId);
      if (!loser) continue; // folded already (a redelivery), or the loser never had an event here
      current = { profile: mergeProfiles(current.profile, loser.profile, release.model), memberships: current.memberships };
      // The loser's profile is gone: it leaves its segments; the survivor's evaluation below says what it enters.
      const cause: ChangeCause = { kind: 'merge', loserId };
      outputs.push(...evaluateSegments(loser.memberships, loser.profile, [], release.model, input.at, cause).changes.map((change) => this.outputs.segmentChange(change)));
      outputs.push(this.outputs.profileGone(loserId));
      access.delete(loserId); // its timers too; deleting it in the same commit makes the fold happen once
      merged = true;
    }
    const applied = applyEvent(current.profile, event, release.model, input.at);
    if (applied.duplicate && !merged) return outputs;
    current = { profile: applied.state, memberships: current.memberships };
    return [...outputs, ...this.evaluate(current, release, input.at, { kind: 'event', messageId: event.messageId }, access, true)];
  }

  /** Segments at `now`: the changes, the state with its memberships, and the profile's one timer moved to the next change. */
  private evaluate(current: SegmentationState, release: SegmentRelease, now: number, cause: ChangeCause, access: StateAccess<SegmentationState>, stateChanged: boolean): Output[] {
    const key = current.profile.profileId;
    const evaluation = evaluateSegments(current.memberships, current.profile, release.segments, release.model, now, cause);
    if (evaluation.nextChangeAt === undefined) access.cancelTimer(key, SEGMENTS_TIMER);
    else access.setTimer(key, SEGMENTS_TIMER, Math.max(evaluation.nextChangeAt, now + 1));
    if (!stateChanged && evaluation.changes.length === 0) return [];
    access.put(key, { profile: current.profile, memberships: evaluation.memberships });
    return [...evaluation.changes.map((change) => this.outputs.segmentChange(change)), this.outputs.profileSnapshot(current.profile, evaluation.memberships, now)];
  }
}
