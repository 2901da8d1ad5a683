import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ProfileUpdateRecord, Topics } from '@kairos/contracts';
import { BatchContext, committedOffsets, DecodedRecord, endOffsets, KafkaClient, keyPartition, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { JourneyInput, JourneysState, mergeJourneysStates, stepJourneys } from '@kairos/journeys';
import { CONSUMER_GROUP, KAFKA } from '@kairos/service-runtime';
import { CommittedTally, Output, StateAccess, StatefulInput, StatefulProcessor, StateStore } from '@kairos/state-store';
import { DataSource } from 'typeorm';
import { JourneysInForce } from './journeys-in-force';
import { journeysMetrics } from './journeys-metrics';
import { TriggersOutputsRepository } from './triggers-outputs.repository';

/** The one durable timer per profile: due when its next wait, absence deadline, recurring date or goal window comes. */
export const JOURNEYS_TIMER = 'journeys';

/** A record that is not a profile update at all: poison (dead-lettered with the reason), never a reason to stop. */
export class InvalidProfileUpdateError extends Error {
  override readonly name = 'InvalidProfileUpdateError';
}

/** Event time of a profile update: its `at` (the event or timer time segmentation applied), else the broker's. */
export function updateTimeOf(record: DecodedRecord<ProfileUpdateRecord>): number {
  const parsed = Date.parse(record.data?.at);
  return Number.isNaN(parsed) ? Number(record.timestamp) : parsed;
}

function checkUpdate(record: DecodedRecord<ProfileUpdateRecord>): ProfileUpdateRecord {
  const update = record.data;
  if (typeof update !== 'object' || update === null) throw new InvalidProfileUpdateError('not an object');
  if (typeof update.profileId !== 'string' || update.profileId === '') throw new InvalidProfileUpdateError('no profileId');
  if (typeof update.updateId !== 'string') throw new InvalidProfileUpdateError('no updateId');
  if (typeof update.input !== 'object' || update.input === null || typeof update.input.kind !== 'string') throw new InvalidProfileUpdateError('no input kind');
  if (typeof update.segments !== 'object' || update.segments === null || !Array.isArray(update.changes)) throw new InvalidProfileUpdateError('no segments or changes');
  return update;
}

/**
 * The ordered path of every profile through its journeys: profile updates and the profile's journeys timer go through
 * `apply` one at a time per partition (a StatefulProcessor over the `journeys` StateStore), which calls only the pure
 * stepping function of libs/journeys. Outputs are published before the state commits; their ids are deterministic.
 */
@Injectable()
export class RunJourneysUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('triggers');
  private readonly store: StateStore<JourneysState>;
  private readonly processor: StatefulProcessor<JourneysState, ProfileUpdateRecord>;
  private partitions = 0;
  /** The outcomes a transaction publishes, counted once it commits. */
  private readonly outcomes = new CommittedTally<{ journey: string; kind: string }>(() => journeysMetrics().outcomes);

  constructor(
    @Inject(DataSource) dataSource: DataSource,
    @Inject(RecordProducer) producer: RecordProducer,
    @Inject(PartitionOwnership) ownership: PartitionOwnership,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(CONSUMER_GROUP) groupId: string,
    @Inject(JourneysInForce) private readonly journeys: JourneysInForce,
    @Inject(TriggersOutputsRepository) private readonly outputs: TriggersOutputsRepository,
  ) {
    this.store = new StateStore<JourneysState>({ dataSource, name: 'journeys' });
    // Constructed before the consumer joins its group: the processor must hear of the first assignment.
    this.processor = new StatefulProcessor<JourneysState, ProfileUpdateRecord>({
      store: this.store,
      producer,
      ownership,
      topics: [Topics.profileUpdates.name],
      keyOf: (record) => checkUpdate(record).profileId,
      eventTime: updateTimeOf,
      apply: (input, state) => this.apply(input, state),
      committed: (outputs) => this.outcomes.count(outputs),
      endOffsets: (topic) => endOffsets(kafka, topic),
      committedOffsets: (topic) => committedOffsets(kafka, groupId, topic),
      log: (level, message) => (level === 'info' ? this.logger.log(message) : this.logger[level](message)),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.partitions = (await endOffsets(this.kafka, Topics.profileUpdates.name)).size;
    const problems = this.journeys.current().problems;
    for (const problem of problems) this.logger.error(`journey left out: ${problem}`);
    this.processor.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.processor.stop();
  }

  execute(records: DecodedRecord<ProfileUpdateRecord>[], context: BatchContext): Promise<void> {
    return this.processor.handleBatch(records, context);
  }

  /** One input of one profile: a profile update, or its journeys timer coming due. */
  async apply(input: StatefulInput<ProfileUpdateRecord>, access: StateAccess<JourneysState>): Promise<Output[]> {
    let previous = await access.get(input.key);
    if (input.kind === 'timer' && previous === undefined) return [];
    const journeyInput: JourneyInput = input.kind === 'timer' ? { kind: 'timer' } : { kind: 'update', update: checkUpdate(input.record) };
    if (input.kind === 'record' && journeyInput.kind === 'update' && journeyInput.update.input.kind === 'merge') {
      // The loser's instances, entries and sends move to the survivor when this partition owns them; deleting the
      // loser in the same commit makes the fold happen once. A loser on another partition has another writer.
      const loserId = journeyInput.update.input.loserId;
      const loser = loserId !== input.key && keyPartition(loserId, this.partitions) === input.record.partition ? await access.get(loserId) : undefined;
      if (loser) {
        previous = previous ? mergeJourneysStates(previous, loser) : { ...loser, profileId: input.key };
        access.delete(loserId);
      }
    }
    const decision = stepJourneys(previous, journeyInput, input.at, this.journeys.current());
    const outputs: Output[] = [];
    for (const effect of decision.effects) {
      switch (effect.kind) {
        case 'dispatch':
          outputs.push(this.outputs.dispatchRequest(effect.request));
          break;
        case 'outcome':
          outputs.push(this.outcomes.mark(this.outputs.journeyOutcome(effect.outcome), { journey: effect.outcome.journeyId, kind: effect.outcome.kind }));
          break;
        case 'set-timer':
          access.setTimer(input.key, JOURNEYS_TIMER, effect.dueAt);
          break;
        case 'cancel-timer':
          access.cancelTimer(input.key, JOURNEYS_TIMER);
          break;
        case 'update-profile':
          // Not fed back yet: the outcome (step-executed, detail.updateProfile) records it; see the README.
          break;
        case 'note':
          break;
      }
    }
    if (journeyInput.kind === 'update' && journeyInput.update.input.kind === 'erasure') access.delete(input.key);
    else access.put(input.key, decision.state);
    return outputs;
  }
}
