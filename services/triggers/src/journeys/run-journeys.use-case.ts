import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { JourneysTransferRecord, ProfileUpdateRecord, Topics } from '@kairos/contracts';
import { BatchContext, committedOffsets, DecodedRecord, endOffsets, KafkaClient, keyPartition, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { Effect, GatedJourneys, GateInput, gateJourneys, JourneysState, SplitTally, splitTallyKey, traitUpdateEvent } from '@kairos/journeys';
import { CONSUMER_GROUP, KAFKA } from '@kairos/service-runtime';
import { CommittedTally, MARKER_EXPIRY_TIMER, MARKERS_KEPT_MS, Output, putRedirect, StateAccess, StatefulInput, StatefulProcessor, StateStore } from '@kairos/state-store';
import { DataSource } from 'typeorm';
import { JourneysInForce } from './journeys-in-force';
import { journeysMetrics } from './journeys-metrics';
import { TriggersOutputsRepository } from './triggers-outputs.repository';
import { isErased, isJourneys, isPartitionEntry, isRedirect, isSplitTally, MAX_HOPS, TriggersEntry } from './triggers-state';

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
 * which hands the loser's journeys to the survivor — directly when it owns the survivor's partition too, otherwise on
 * the transfers topic, keyed by the survivor — and leaves a redirect in place of the loser's state and timer. The
 * survivor folds them at its merge mark, through libs/journeys' gate (`gateJourneys`), once.
 */
@Injectable()
export class RunJourneysUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('triggers');
  readonly store: StateStore<TriggersEntry>;
  readonly processor: StatefulProcessor<TriggersEntry, TriggersInput>;
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
    @Inject(MARKERS_KEPT_MS) private readonly markersKeptMs: number,
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
    if (input.kind === 'timer') {
      if (input.timer.name === MARKER_EXPIRY_TIMER) {
        if (isRedirect(entry)) access.delete(input.key);
        return [];
      }
      return isJourneys(entry) ? this.decide(input.key, entry, { kind: 'timer' }, input.at, access) : [];
    }
    const { record } = input;
    if (record.topic === Topics.journeysTransfers.name) return this.onTransfer(checkTransfer(record), entry, input.at, access);
    const update = checkUpdate(record);
    // Redirected: a copy of an update from before the merge, published again (its effect went with the hand-over).
    // Erased: nothing may start again. (A tally's or a schedule pass's key is never a profile's.)
    if (isRedirect(entry) || isErased(entry) || isPartitionEntry(entry)) return [];
    return this.decide(input.key, entry, { kind: 'update', update }, input.at, access);
  }

  /** One stored profile in a schedule pass (ScheduleJourneysUseCase): written only if the pass changed its state. */
  async schedule(key: string, access: StateAccess<TriggersEntry>, now: number): Promise<{ outputs: Output[]; changed: boolean }> {
    const entry = await access.get(key);
    if (!isJourneys(entry) || !entry.profile) return { outputs: [], changed: false };
    const decision = gateJourneys(key, entry, { kind: 'schedule' }, now, this.journeys.current());
    if (JSON.stringify(decision.state) === JSON.stringify(entry)) return { outputs: [], changed: false };
    const outputs = this.effects(key, decision.effects, access);
    access.put(key, decision.state);
    return { outputs, changed: true };
  }

  /** libs/journeys' gate and stepping function on one input; its effects as outputs, timer changes and state. */
  private async decide(key: string, entry: GatedJourneys | undefined, input: GateInput, at: number, access: StateAccess<TriggersEntry>): Promise<Output[]> {
    const decision = gateJourneys(key, entry, input, at, this.journeys.current());
    const outputs = this.effects(key, decision.effects, access);
    await this.tally(key, decision.effects, access);
    if (decision.handOver) return [...outputs, ...(await this.handOver(key, decision.state, decision.handOver.survivorId, at, access))];
    if (input.kind === 'update' && input.update.input.kind === 'erasure') {
      access.delete(key); // its timer too
      access.put(key, { erased: true, at });
    } else access.put(key, decision.state);
    return outputs;
  }

  /**
   * The loser's writer, at the loser's last update: a redirect replaces its journeys, which go to the survivor — at
   * once when this partition owns the survivor too, on the transfers topic otherwise. Also an empty hand-over: the
   * survivor's stream waits for one at its merge mark.
   */
  private async handOver(loserId: string, loser: GatedJourneys, survivorId: string, at: number, access: StateAccess<TriggersEntry>): Promise<Output[]> {
    access.delete(loserId); // its timer too
    putRedirect(access, loserId, { redirect: survivorId, at }, Date.now(), this.markersKeptMs);
    const transfer = { transferId: `journeys/${loserId}`, groupId: this.groupId, profileId: survivorId, loserId, mergedAt: new Date(at).toISOString(), hops: 0, state: loser as unknown as JourneysTransferRecord['state'] };
    if (keyPartition(survivorId, this.partitions) !== keyPartition(loserId, this.partitions)) return [this.outputs.transfer(transfer)];
    return this.onTransfer(transfer, await access.get(survivorId), at, access);
  }

  /** A loser's journeys reaching the survivor's writer: through the survivor's gate, along a redirect, or dropped if erased. */
  private async onTransfer(transfer: JourneysTransferRecord, entry: TriggersEntry | undefined, at: number, access: StateAccess<TriggersEntry>): Promise<Output[]> {
    if (transfer.groupId !== this.groupId || isErased(entry) || isPartitionEntry(entry)) return []; // another group's (a replay makes its own); an erased survivor
    if (isRedirect(entry)) {
      // A chain: the survivor was itself merged away since. Follow it.
      if (transfer.hops >= MAX_HOPS) {
        this.logger.error(`hand-over ${transfer.transferId} followed ${MAX_HOPS} redirects from ${transfer.loserId}; a merge cycle? Not applied; the record stays on ${Topics.journeysTransfers.name} for its retention`);
        return [];
      }
      return [this.outputs.transfer({ ...transfer, profileId: entry.redirect, hops: transfer.hops + 1 })];
    }
    return this.decide(transfer.profileId, entry, { kind: 'hand-over', loserId: transfer.loserId, state: transfer.state as unknown as JourneysState }, at, access);
  }

  /**
   * Adds the split samples (finished instances of winner splits whose goal window closed) to this partition's share of
   * each split's tally, in the same transaction as the instances: a redelivered or replayed input counts once.
   */
  private async tally(key: string, effects: readonly Effect[], access: StateAccess<TriggersEntry>): Promise<void> {
    for (const effect of effects) {
      if (effect.kind !== 'split-sample') continue;
      const { sample } = effect;
      const tallyKey = splitTallyKey(sample.journeyId, sample.version, sample.stepId, keyPartition(key, this.partitions));
      const entry = await access.get(tallyKey);
      const tally: SplitTally = isSplitTally(entry) ? entry.splitTally : {};
      const counts = tally[sample.variant] ?? { recipients: 0, conversions: 0 };
      access.put(tallyKey, { splitTally: { ...tally, [sample.variant]: { recipients: counts.recipients + 1, conversions: counts.conversions + (sample.converted ? 1 : 0) } } });
    }
  }

  /** A split's tally: the partitions' committed shares added up. */
  async splitTally(journeyId: string, version: number, stepId: string): Promise<SplitTally> {
    const keys = Array.from({ length: this.partitions }, (_, partition) => splitTallyKey(journeyId, version, stepId, partition));
    const total: SplitTally = {};
    for (const entry of (await this.store.readCommitted(keys)).values()) {
      if (!isSplitTally(entry)) continue;
      for (const [variant, counts] of Object.entries(entry.splitTally)) {
        const sum = total[variant] ?? { recipients: 0, conversions: 0 };
        total[variant] = { recipients: sum.recipients + counts.recipients, conversions: sum.conversions + counts.conversions };
      }
    }
    return total;
  }

  /** The stepping function's effects as outputs and timer changes of `key`. */
  private effects(key: string, effects: readonly Effect[], access: StateAccess<TriggersEntry>): Output[] {
    const outputs: Output[] = [];
    for (const effect of effects) {
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
          outputs.push(this.outputs.traitUpdate(effect.update.profileId, traitUpdateEvent(effect.update)));
          break;
        case 'note':
          break;
      }
    }
    return outputs;
  }
}
