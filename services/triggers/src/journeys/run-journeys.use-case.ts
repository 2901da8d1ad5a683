import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { JourneysTransferRecord, ProfileUpdateRecord, Topics } from '@kairos/contracts';
import { BatchContext, committedOffsets, DecodedRecord, endOffsets, KafkaClient, keyPartition, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { emptyJourneysState, JourneyInput, JourneysState, mergeJourneysStates, nextDueAt, stepJourneys } from '@kairos/journeys';
import { CONSUMER_GROUP, KAFKA } from '@kairos/service-runtime';
import { CommittedTally, Output, StateAccess, StatefulInput, StatefulProcessor, StateStore } from '@kairos/state-store';
import { DataSource } from 'typeorm';
import { JourneysInForce } from './journeys-in-force';
import { journeysMetrics } from './journeys-metrics';
import { TriggersOutputsRepository } from './triggers-outputs.repository';
import { isErased, isJourneys, isRedirect, MAX_HOPS, TriggersEntry } from './triggers-state';

/** The one durable timer per profile: due when its next wait, absence deadline, recurring date or goal window comes. */
export const JOURNEYS_TIMER = 'journeys';

/** The records of the ordered path: profile updates (segmentation's) and hand-overs of merged-away profiles (its own). */
export type TriggersInput = ProfileUpdateRecord | JourneysTransferRecord;

/** The topics the ordered path reads; partition p of each belongs to the owner of partition p of the state. */
export const TRIGGERS_TOPICS = [Topics.profileUpdates.name, Topics.journeysTransfers.name] as const;

/** A record that is not a profile update (or hand-over) at all: poison (dead-lettered with the reason), never a reason to stop. */
export class InvalidProfileUpdateError extends Error {
  override readonly name = 'InvalidProfileUpdateError';
}

/** Event time of an input: a profile update's `at` (the event or timer time segmentation applied), a hand-over's merge time, else the broker's. */
export function updateTimeOf(record: DecodedRecord<TriggersInput>): number {
  const data = record.data as Partial<ProfileUpdateRecord & JourneysTransferRecord> | null;
  const parsed = Date.parse((record.topic === Topics.journeysTransfers.name ? data?.mergedAt : data?.at) ?? '');
  return Number.isNaN(parsed) ? Number(record.timestamp) : parsed;
}

function checkTransfer(record: DecodedRecord<TriggersInput>): JourneysTransferRecord {
  const transfer = record.data as JourneysTransferRecord | null;
  if (typeof transfer !== 'object' || transfer === null) throw new InvalidProfileUpdateError('hand-over: not an object');
  if (typeof transfer.profileId !== 'string' || transfer.profileId === '' || typeof transfer.loserId !== 'string') throw new InvalidProfileUpdateError('hand-over: no profileId or loserId');
  if (typeof transfer.state !== 'object' || transfer.state === null || !Array.isArray((transfer.state as Partial<JourneysState>).instances)) throw new InvalidProfileUpdateError('hand-over: no journeys state');
  return transfer;
}

function checkUpdate(record: DecodedRecord<TriggersInput>): ProfileUpdateRecord {
  const update = record.data as ProfileUpdateRecord | null;
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
 *
 * Merges follow segmentation's: the loser's last update (input merge, with survivorId) reaches the loser's writer,
 * which folds the loser's journeys into the survivor at once when it owns the survivor's partition too, and otherwise
 * hands them over on the transfers topic, keyed by the survivor; either way a redirect replaces the loser's state and
 * timers. The survivor's writer folds a loser once (remembered in its state).
 */
@Injectable()
export class RunJourneysUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('triggers');
  private readonly store: StateStore<TriggersEntry>;
  private readonly processor: StatefulProcessor<TriggersEntry, TriggersInput>;
  private partitions = 0;
  /** The outcomes a transaction publishes, counted once it commits. */
  private readonly outcomes = new CommittedTally<{ journey: string; kind: string }>(() => journeysMetrics().outcomes);

  constructor(
    @Inject(DataSource) dataSource: DataSource,
    @Inject(RecordProducer) producer: RecordProducer,
    @Inject(PartitionOwnership) ownership: PartitionOwnership,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(CONSUMER_GROUP) private readonly groupId: string,
    @Inject(JourneysInForce) private readonly journeys: JourneysInForce,
    @Inject(TriggersOutputsRepository) private readonly outputs: TriggersOutputsRepository,
  ) {
    this.store = new StateStore<TriggersEntry>({ dataSource, name: 'journeys' });
    // Constructed before the consumer joins its group: the processor must hear of the first assignment.
    this.processor = new StatefulProcessor<TriggersEntry, TriggersInput>({
      store: this.store,
      producer,
      ownership,
      topics: TRIGGERS_TOPICS,
      keyOf: (record) => (record.topic === Topics.journeysTransfers.name ? checkTransfer(record) : checkUpdate(record)).profileId,
      eventTime: updateTimeOf,
      // Segmentation's stream drives stream time (so a replay fires timers between the same updates as the live run
      // did); hand-overs are read on their own and may run ahead of it.
      clockTopics: [Topics.profileUpdates.name],
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

  execute(records: DecodedRecord<TriggersInput>[], context: BatchContext): Promise<void> {
    return this.processor.handleBatch(records, context);
  }

  /** One input of one profile: a profile update, a hand-over of a merged-away profile, or its journeys timer coming due. */
  async apply(input: StatefulInput<TriggersInput>, access: StateAccess<TriggersEntry>): Promise<Output[]> {
    const entry = await access.get(input.key);
    if (input.kind === 'timer') return isJourneys(entry) ? this.step(input.key, entry, { kind: 'timer' }, input.at, access) : [];
    const { record } = input;
    if (record.topic === Topics.journeysTransfers.name) return this.onTransfer(checkTransfer(record), entry, input.at, access);
    const update = checkUpdate(record);
    // Redirected: a copy of an update from before the merge, published again (its effect went with the hand-over).
    // Erased: nothing may start again.
    if (isRedirect(entry) || isErased(entry)) return [];
    const merge = update.input.kind === 'merge' ? update.input : undefined;
    if (merge?.survivorId !== undefined && merge.loserId === input.key && merge.survivorId !== input.key) {
      return this.handOver(input.key, entry, merge.survivorId, record.partition, input.at, access);
    }
    const outputs = this.step(input.key, entry, { kind: 'update', update }, input.at, access);
    if (update.input.kind === 'erasure') {
      access.delete(input.key); // its timer too
      access.put(input.key, { erased: true, at: input.at });
    }
    return outputs;
  }

  /**
   * The loser's writer, at the loser's last update: its journeys go to the survivor — folded here when this partition
   * owns the survivor too, handed over on the transfers topic otherwise — and a redirect replaces them. The loser's
   * last update itself is not stepped: its instances run on as the survivor's.
   */
  private async handOver(loserId: string, loser: JourneysState | undefined, survivorId: string, partition: number, at: number, access: StateAccess<TriggersEntry>): Promise<Output[]> {
    access.delete(loserId); // its timer too
    access.put(loserId, { redirect: survivorId, at });
    if (!loser) return [];
    const transfer = { transferId: `journeys/${loserId}`, groupId: this.groupId, profileId: survivorId, loserId, mergedAt: new Date(at).toISOString(), hops: 0, state: loser as unknown as JourneysTransferRecord['state'] };
    if (keyPartition(survivorId, this.partitions) !== partition) return [this.outputs.transfer(transfer)];
    return this.onTransfer(transfer, await access.get(survivorId), at, access);
  }

  /** A loser's journeys reaching the survivor's writer: folded once, forwarded along a redirect, dropped if erased. */
  private onTransfer(transfer: JourneysTransferRecord, entry: TriggersEntry | undefined, at: number, access: StateAccess<TriggersEntry>): Output[] {
    if (transfer.groupId !== this.groupId || isErased(entry)) return []; // another group's (a replay makes its own); an erased survivor
    if (isRedirect(entry)) {
      // A chain: the survivor was itself merged away since. Follow it.
      if (transfer.hops >= MAX_HOPS) {
        this.logger.error(`hand-over ${transfer.transferId} followed ${MAX_HOPS} redirects from ${transfer.loserId}; a merge cycle? It is kept on ${Topics.journeysTransfers.name} and not applied`);
        return [];
      }
      return [this.outputs.transfer({ ...transfer, profileId: entry.redirect, hops: transfer.hops + 1 })];
    }
    const key = transfer.profileId;
    const folded = mergeJourneysStates(entry ?? emptyJourneysState(key), transfer.state as unknown as JourneysState);
    if (folded === entry) return [];
    access.put(key, folded);
    // What the loser had scheduled is the survivor's now; anything already due comes at the next timer round.
    const dueAt = nextDueAt(folded);
    if (dueAt === undefined) access.cancelTimer(key, JOURNEYS_TIMER);
    else access.setTimer(key, JOURNEYS_TIMER, Math.max(dueAt, at));
    return [];
  }

  /** The pure stepping function on one input, its effects turned into outputs and timer changes. */
  private step(key: string, previous: JourneysState | undefined, journeyInput: JourneyInput, at: number, access: StateAccess<TriggersEntry>): Output[] {
    const decision = stepJourneys(previous, journeyInput, at, this.journeys.current());
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
          access.setTimer(key, JOURNEYS_TIMER, effect.dueAt);
          break;
        case 'cancel-timer':
          access.cancelTimer(key, JOURNEYS_TIMER);
          break;
        case 'update-profile':
          // Not fed back yet: the outcome (step-executed, detail.updateProfile) records it; see the README.
          break;
        case 'note':
          break;
      }
    }
    access.put(key, decision.state);
    return outputs;
  }
}
