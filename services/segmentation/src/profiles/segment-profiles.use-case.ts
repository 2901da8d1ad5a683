import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ProfileErasure, ProfileMerge, ProfileTransferRecord, ProfileUpdateInput, ResolvedEvent, Topics } from '@kairos/contracts';
import { BatchContext, committedOffsets, DecodedRecord, endOffsets, keyPartition, KafkaClient, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { CONSUMER_GROUP, KAFKA } from '@kairos/service-runtime';
import { applyEvent, ChangeCause, emptyProfileState, evaluateSegments, mergeProfiles, ProfileState, SegmentChange } from '@kairos/segmentation';
import { MARKER_EXPIRY_TIMER, MARKERS_KEPT_MS, Output, putRedirect, StateAccess, StatefulInput, StatefulProcessor, StateStore, writtenAt } from '@kairos/state-store';
import { DataSource } from 'typeorm';
import { serialiseEntry } from './profile-json';
import { SegmentationOutputsRepository } from './segmentation-outputs.repository';
import { FOLDED_LOSERS_LIMIT, isErased, isProfile, isRedirect, MAX_HOPS, ProfileEntry, SegmentationState } from './segmentation-state';
import { SegmentRelease, SegmentsInForce } from './segments-in-force';

/** The one durable timer per profile: due when its segments can next change without a new event. */
export const SEGMENTS_TIMER = 'segments';

/** The records of the profiles' ordered path: every input topic is keyed (and co-partitioned) by profile. */
export type SegmentationInput = ResolvedEvent | ProfileMerge | ProfileErasure | ProfileTransferRecord | null;

/** The topics the ordered path reads; partition p of each belongs to the owner of partition p of the state. */
export const SEGMENTATION_TOPICS = [Topics.resolved.name, Topics.merges.name, Topics.erasures.name, Topics.profileTransfers.name] as const;

const parseTime = (iso: string | undefined, fallback: number): number => {
  const parsed = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(parsed) ? fallback : parsed;
};

/** Event time of an input record: what it says happened when (what a replay follows), else the broker's time. */
export function eventTimeOf(record: DecodedRecord<SegmentationInput>): number {
  const broker = Number(record.timestamp);
  switch (record.topic) {
    case Topics.resolved.name:
      return parseTime((record.data as ResolvedEvent).timestamp, broker);
    case Topics.merges.name:
      return parseTime((record.data as ProfileMerge | null)?.mergedAt, broker); // null: a tombstone (an erasure)
    case Topics.erasures.name:
      return parseTime((record.data as ProfileErasure).erasedAt, broker);
    default: {
      const transfer = record.data as ProfileTransferRecord;
      return parseTime(transfer.kind === 'state' ? transfer.mergedAt : transfer.kind === 'event' ? transfer.event.timestamp : transfer.erasedAt, broker);
    }
  }
}

/** The profile whose state an input record is about (its key). */
export function profileKeyOf(record: DecodedRecord<SegmentationInput>): string {
  switch (record.topic) {
    case Topics.resolved.name:
      return (record.data as ResolvedEvent).profileId;
    case Topics.merges.name:
      return (record.data as ProfileMerge | null)?.loserId ?? record.key?.toString() ?? '';
    case Topics.erasures.name:
      return record.key?.toString() ?? (record.data as ProfileErasure).profileIds[0] ?? '';
    default:
      return (record.data as ProfileTransferRecord).profileId;
  }
}

/**
 * The ordered path of every profile: resolved events, merges, erasures, transfers from other partitions and the
 * profile's segment timer go through `apply` one at a time per partition (a StatefulProcessor over the `profiles`
 * StateStore), which calls only the pure segmentation core. Outputs are published before the state commits (the
 * processor's contract); their ids are deterministic.
 *
 * One writer per profile: the owner of the partition a profile id hashes to. A merge (keyed by the loser) reaches the
 * loser's writer, which hands the loser's state to the survivor's partition on the transfers topic, replaces it by a
 * redirect and forwards records still keyed by the loser the same way; the survivor's writer folds a loser once
 * (remembered in its state). Every applied input gives one record on the profile-updates stream.
 */
@Injectable()
export class SegmentProfilesUseCase implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('segmentation');
  readonly store: StateStore<SegmentationState>;
  readonly processor: StatefulProcessor<SegmentationState, SegmentationInput>;
  private partitions = 0;

  constructor(
    @Inject(DataSource) dataSource: DataSource,
    @Inject(RecordProducer) producer: RecordProducer,
    @Inject(PartitionOwnership) ownership: PartitionOwnership,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(SegmentsInForce) private readonly segmentsInForce: SegmentsInForce,
    @Inject(SegmentationOutputsRepository) private readonly outputs: SegmentationOutputsRepository,
    @Inject(CONSUMER_GROUP) private readonly groupId: string,
    @Inject(MARKERS_KEPT_MS) private readonly markersKeptMs: number,
  ) {
    this.store = new StateStore<SegmentationState>({ dataSource, name: 'profiles', serialise: serialiseEntry });
    // Constructed before the consumer joins its group: the processor must hear of the first assignment.
    this.processor = new StatefulProcessor<SegmentationState, SegmentationInput>({
      store: this.store,
      producer,
      ownership,
      topics: SEGMENTATION_TOPICS,
      keyOf: profileKeyOf,
      eventTime: eventTimeOf,
      // The event log drives stream time (so a replay fires timers between the same events as the live run did);
      // merges, erasures and transfers are read on their own and may run ahead of it.
      clockTopics: [Topics.resolved.name],
      apply: (input, state) => this.apply(input, state),
      committed: (outputs) => this.outputs.committed(outputs),
      endOffsets: (topic) => endOffsets(kafka, topic),
      committedOffsets: (topic) => committedOffsets(kafka, groupId, topic),
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

  execute(records: DecodedRecord<SegmentationInput>[], context: BatchContext): Promise<void> {
    return this.processor.handleBatch(records, context);
  }

  /** One input of one profile: a record of an input topic, or its segment timer coming due. */
  async apply(input: StatefulInput<SegmentationInput>, access: StateAccess<SegmentationState>): Promise<Output[]> {
    const release = this.segmentsInForce.current();
    if (input.kind === 'timer') {
      const entry = await access.get(input.key);
      if (input.timer.name === MARKER_EXPIRY_TIMER) {
        if (isRedirect(entry)) access.delete(input.key);
        return [];
      }
      if (!isProfile(entry)) return [];
      const caught = this.catchUp(entry, release, input.at, access);
      return [...caught.outputs, ...this.evaluate(caught.entry, release, input.at, { kind: 'timer' }, { kind: 'timer' }, access, false, input.at).outputs];
    }
    const { record } = input;
    // When the record was written to the log (its broker timestamp): how far it may move the profile's clock (see
    // evaluate) — the same in a replay as in the live run, unlike the wall clock.
    const written = writtenAt(record, input.at);
    switch (record.topic) {
      case Topics.resolved.name:
        return this.onEvent(record.data as ResolvedEvent, record.partition, input.at, written, release, access);
      case Topics.merges.name:
        // A tombstone on the compacted merges topic follows an erasure, which the erasures topic carries.
        return record.data === null ? [] : this.onMerge(record.data as ProfileMerge, input.at, access);
      case Topics.erasures.name:
        return this.onErasure(record.data as ProfileErasure, record.partition, input.at, access);
      default:
        return this.onTransfer(record.data as ProfileTransferRecord, input.at, written, release, access);
    }
  }

  /** A resolved event: applied to its profile, or forwarded to the survivor when its profile was merged away. */
  private async onEvent(event: ResolvedEvent, partition: number, at: number, written: number, release: SegmentRelease, access: StateAccess<SegmentationState>): Promise<Output[]> {
    const key = event.profileId;
    const entry = await access.get(key);
    if (isErased(entry)) return [];
    if (isRedirect(entry)) return [this.outputs.transfer({ transferId: `event/${event.messageId}/${key}`, groupId: this.groupId, profileId: entry.redirect, hops: 0, kind: 'event', loserId: key, event })];
    const outputs: Output[] = [];
    let current: ProfileEntry = { profile: emptyProfileState(key), memberships: {} };
    if (isProfile(entry)) {
      const caught = this.catchUp(entry, release, at, access);
      outputs.push(...caught.outputs);
      current = caught.entry;
    }
    // Losers this event merged whose state this partition owns are folded right here, before the event, so the
    // event's update already reflects them; the others arrive by transfer (their merge record reaches their writer).
    for (const loserId of event.resolution?.mergedProfileIds ?? []) {
      if (loserId === key || keyPartition(loserId, this.partitions) !== partition) continue;
      const loser = await access.get(loserId);
      if (!isProfile(loser)) continue; // folded or handed over already (a redelivery), or never seen here
      outputs.push(...this.leave(loser, key, at, access));
      const evaluated = this.evaluate(this.fold(current, loserId, loser.profile, release, loser.foldedLosers), release, at, { kind: 'merge', loserId }, { kind: 'merge', loserId }, access, true, written);
      outputs.push(...evaluated.outputs);
      current = evaluated.entry;
    }
    return [...outputs, ...this.applyEventTo(current, event, at, written, release, access)];
  }

  /** The event applied to a live profile (its own, or forwarded from a loser); a duplicate publishes nothing. */
  private applyEventTo(current: ProfileEntry, event: ResolvedEvent, at: number, written: number, release: SegmentRelease, access: StateAccess<SegmentationState>): Output[] {
    const applied = applyEvent(current.profile, event, release.model, at);
    if (applied.duplicate) return [];
    const profileId = current.profile.profileId;
    const seen = event.profileId === profileId ? event : { ...event, profileId };
    return this.evaluate({ ...current, profile: applied.state }, release, at, { kind: 'event', messageId: event.messageId }, { kind: 'event', event: seen }, access, true, written).outputs;
  }

  /**
   * A merge, at the loser's writer: the loser's state goes to the survivor's partition (a transfer), the loser
   * leaves its segments, and a redirect stays so a record still keyed by the loser follows it. Idempotent: a
   * redelivered merge finds the redirect.
   */
  private async onMerge(merge: ProfileMerge, at: number, access: StateAccess<SegmentationState>): Promise<Output[]> {
    if (merge.loserId === merge.survivorId) return [];
    const entry = await access.get(merge.loserId);
    if (isRedirect(entry) || isErased(entry)) return [];
    if (!isProfile(entry)) {
      putRedirect(access, merge.loserId, { redirect: merge.survivorId, at }, Date.now(), this.markersKeptMs);
      return [];
    }
    return [
      this.outputs.transfer({
        transferId: `state/${merge.loserId}`,
        groupId: this.groupId,
        profileId: merge.survivorId,
        hops: 0,
        kind: 'state',
        loserId: merge.loserId,
        mergedAt: new Date(at).toISOString(),
        state: { ...entry.profile },
        ...(entry.foldedLosers?.length ? { foldedLosers: entry.foldedLosers } : {}),
      }),
      ...this.leave(entry, merge.survivorId, at, access),
    ];
  }

  /** An erasure: the profiles of this partition are erased here, the others by their own writers. */
  private async onErasure(erasure: ProfileErasure, partition: number, at: number, access: StateAccess<SegmentationState>): Promise<Output[]> {
    const outputs: Output[] = [];
    for (const profileId of erasure.profileIds) {
      if (keyPartition(profileId, this.partitions) === partition) outputs.push(...(await this.erase(profileId, erasure.requestId, at, access)));
      else outputs.push(this.outputs.transfer({ transferId: `erasure/${erasure.requestId}/${profileId}`, groupId: this.groupId, profileId, hops: 0, kind: 'erasure', requestId: erasure.requestId, erasedAt: erasure.erasedAt }));
    }
    return outputs;
  }

  /** Work another partition's writer handed to this profile's writer. */
  private async onTransfer(transfer: ProfileTransferRecord, at: number, written: number, release: SegmentRelease, access: StateAccess<SegmentationState>): Promise<Output[]> {
    if (transfer.groupId !== this.groupId) return []; // another group's (a replay makes its own)
    const key = transfer.profileId;
    if (transfer.kind === 'erasure') return this.erase(key, transfer.requestId, at, access);
    const entry = await access.get(key);
    if (isErased(entry)) return [];
    if (isRedirect(entry)) {
      // A chain: the survivor was itself merged away since. Follow it.
      if (transfer.hops >= MAX_HOPS) {
        this.logger.error(`transfer ${transfer.transferId} followed ${MAX_HOPS} redirects from ${transfer.loserId}; a merge cycle? It is kept on ${Topics.profileTransfers.name} and not applied`);
        return [];
      }
      return [this.outputs.transfer({ ...transfer, profileId: entry.redirect, hops: transfer.hops + 1 })];
    }
    const caught = isProfile(entry) ? this.catchUp(entry, release, at, access) : { entry: { profile: emptyProfileState(key), memberships: {} }, outputs: [] };
    const current: ProfileEntry = caught.entry;
    if (transfer.kind === 'event') return [...caught.outputs, ...this.applyEventTo(current, transfer.event, at, written, release, access)];
    if (!transfer.state || current.foldedLosers?.includes(transfer.loserId)) return caught.outputs;
    const folded = this.fold(current, transfer.loserId, transfer.state as unknown as ProfileState, release, transfer.foldedLosers);
    return [...caught.outputs, ...this.evaluate(folded, release, at, { kind: 'merge', loserId: transfer.loserId }, { kind: 'merge', loserId: transfer.loserId }, access, true, written).outputs];
  }

  /**
   * A backfill's evaluation of one stored profile under the release in force, at `now`: its changes carry cause
   * backfill, and its update is published only if it changed something (a backfill that finds nothing to do is no
   * input for triggers). The profile's timer follows the new segments too.
   */
  backfillProfile(entry: ProfileEntry, release: SegmentRelease, now: number, input: Extract<ProfileUpdateInput, { kind: 'backfill' }>, access: StateAccess<SegmentationState>): Output[] {
    // Evaluated under this release already (live, after the release arrived): nothing to backfill, and evaluating it at
    // another moment than its own inputs' could only disagree with the timer it has.
    if (entry.release === release.fingerprint) return [];
    const { outputs, changed } = this.evaluate(entry, release, now, { kind: 'backfill' }, input, access, false);
    return changed ? outputs : [];
  }

  /**
   * A stored profile last evaluated under another release is backfilled to this one before its input is applied: the
   * memberships a new or changed segment (or profile model) gives its stored state carry cause backfill, whether the
   * backfill's pages reach the profile first or its own input does. Judged just before the input's time, so what the
   * input or a transition due at that moment changes is the input's own change. Without this, a customer active during
   * a backfill "entered" a new segment by her next event and a journey on that entry started for her.
   */
  private catchUp(entry: ProfileEntry, release: SegmentRelease, at: number, access: StateAccess<SegmentationState>): { entry: ProfileEntry; outputs: Output[] } {
    if (entry.release === undefined || entry.release === release.fingerprint) return { entry, outputs: [] };
    // The segments evaluated, or (when the release has none left) those the profile leaves.
    const segments = release.segments.length > 0 ? release.segments.map((segment) => ({ segmentId: segment.id, version: segment.version })) : Object.entries(entry.memberships).map(([segmentId, membership]) => ({ segmentId, version: membership.version }));
    if (segments.length === 0) return { entry, outputs: [] };
    const input = { kind: 'backfill' as const, ...segments[0], release: release.fingerprint, ...(segments.length > 1 ? { segments } : {}) };
    const evaluated = this.evaluate(entry, release, at - 1, { kind: 'backfill' }, input, access, false);
    return { entry: evaluated.entry, outputs: evaluated.changed ? evaluated.outputs : [] };
  }

  /** The loser's state folded into the survivor's, remembered so a second copy of the transfer folds nothing. */
  private fold(current: ProfileEntry, loserId: string, loser: ProfileState, release: SegmentRelease, loserFolded: readonly string[] = []): ProfileEntry {
    // The loser's own folded losers come along: a late copy of one of their transfers, forwarded here, folds nothing.
    const foldedLosers = [...new Set([...(current.foldedLosers ?? []), ...loserFolded, loserId])].slice(-FOLDED_LOSERS_LIMIT);
    return { ...current, profile: mergeProfiles(current.profile, loser, release.model), foldedLosers };
  }

  /** A merged-away loser: it leaves its segments, its snapshot is tombstoned, and a redirect replaces its state and timers. */
  private leave(loser: ProfileEntry, survivorId: string, at: number, access: StateAccess<SegmentationState>): Output[] {
    const loserId = loser.profile.profileId;
    const exits = this.exits(loser, at, { kind: 'merge', loserId });
    access.delete(loserId); // its timers too
    putRedirect(access, loserId, { redirect: survivorId, at }, Date.now(), this.markersKeptMs);
    return [
      ...exits.map((change) => this.outputs.segmentChange(change)),
      this.outputs.profileGone(loserId),
      this.outputs.profileUpdate(loserId, at, { kind: 'merge', loserId, survivorId }, undefined, {}, exits),
    ];
  }

  /** Erases a profile of this partition: state and timers deleted, a marker kept so nothing brings it back. */
  private async erase(profileId: string, requestId: string, at: number, access: StateAccess<SegmentationState>): Promise<Output[]> {
    const entry = await access.get(profileId);
    if (isErased(entry)) return [];
    access.delete(profileId);
    access.put(profileId, { erased: requestId, at });
    if (!isProfile(entry)) return [this.outputs.profileGone(profileId)];
    const exits = this.exits(entry, at, { kind: 'erasure' });
    return [
      ...exits.map((change) => this.outputs.segmentChange(change)),
      this.outputs.profileGone(profileId),
      this.outputs.profileUpdate(profileId, at, { kind: 'erasure' }, undefined, {}, exits),
    ];
  }

  private exits(entry: ProfileEntry, at: number, cause: ChangeCause): SegmentChange[] {
    return Object.entries(entry.memberships).map(([segmentId, membership]) => ({ profileId: entry.profile.profileId, segmentId, version: membership.version, change: 'exit', at, cause }));
  }

  /**
   * Segments at `now`: the changes, the state with its memberships, the profile's one timer moved to the next change,
   * and the input's record on the updates stream (every applied input has one, also when no segment changed).
   */
  private evaluate(
    current: ProfileEntry,
    release: SegmentRelease,
    now: number,
    cause: ChangeCause,
    input: ProfileUpdateInput,
    access: StateAccess<SegmentationState>,
    stateChanged: boolean,
    written?: number,
  ): { outputs: Output[]; entry: ProfileEntry; changed: boolean } {
    const key = current.profile.profileId;
    // A late input (an offline app's queue sent days later) is applied at its own time, but the segments are judged no
    // earlier than they were last judged: judged in the past, "no order for 90 days" would hold before an order the
    // state already counts, and the profile would enter and, at its timer, leave again — a win-back for a customer who
    // just ordered. The clock moves with the profile's own events and timers, never past the moment the input was
    // written to the log (`written`): an event stamped ahead by a skewed client is judged at its own time without
    // dragging the later inputs into the future, and a replay, which reads the same timestamps, judges as the live
    // run did. A backfill or catch-up (no `written`) judges at the clock without moving it.
    const at = Math.max(now, current.evaluatedAt ?? Number.NEGATIVE_INFINITY);
    const evaluation = evaluateSegments(current.memberships, current.profile, release.segments, release.model, at, cause);
    if (evaluation.nextChangeAt === undefined) access.cancelTimer(key, SEGMENTS_TIMER);
    else access.setTimer(key, SEGMENTS_TIMER, Math.max(evaluation.nextChangeAt, at + 1));
    const changed = stateChanged || evaluation.changes.length > 0;
    const evaluatedAt = written === undefined ? current.evaluatedAt : Math.max(current.evaluatedAt ?? Number.NEGATIVE_INFINITY, Math.min(at, written));
    const entry: ProfileEntry = { ...current, memberships: evaluation.memberships, release: release.fingerprint, ...(evaluatedAt === undefined ? {} : { evaluatedAt }) };
    // A timer that changed nothing writes nothing, its moment included: every applied event is stored with its own.
    if (changed || current.release !== release.fingerprint) access.put(key, entry);
    const outputs = [
      ...evaluation.changes.map((change) => this.outputs.segmentChange(change)),
      ...(changed ? [this.outputs.profileSnapshot(current.profile, evaluation.memberships, at)] : []),
      this.outputs.profileUpdate(key, at, input, current.profile, evaluation.memberships, evaluation.changes),
    ];
    return { outputs, entry, changed };
  }
}
