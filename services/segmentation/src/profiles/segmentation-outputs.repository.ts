import { Injectable } from '@nestjs/common';
import { ProfileSnapshotRecord, ProfileTransferRecord, ProfileUpdateInput, ProfileUpdateRecord, SegmentChangeRecord, Topics } from '@kairos/contracts';
import { Memberships, ProfileState, SegmentChange } from '@kairos/segmentation';
import { CommittedTally, Output } from '@kairos/state-store';
import { segmentationMetrics } from '../segmentation-metrics';
import { profileJson, withSerialised } from './profile-json';

/**
 * Where segmentation's outputs go and how they look on the wire. The StatefulProcessor publishes them (acknowledged)
 * before it commits the state, so a crash in between publishes them again: the ids are deterministic.
 */
@Injectable()
export class SegmentationOutputsRepository {
  /** The segment changes a transaction publishes, counted once it commits. */
  private readonly changes = new CommittedTally<{ segment: string; change: string; cause: string }>(() => segmentationMetrics().changes);

  /** Counts the segment changes among outputs that were just committed. */
  committed(outputs: readonly Output[]): void {
    this.changes.count(outputs);
  }

  changeRecord(change: SegmentChange): SegmentChangeRecord {
    return {
      changeId: `${change.profileId}/${change.segmentId}/${change.version}/${change.change}/${change.at}`,
      profileId: change.profileId,
      segmentId: change.segmentId,
      version: change.version,
      change: change.change,
      at: new Date(change.at).toISOString(),
      cause: change.cause,
    };
  }

  segmentChange(change: SegmentChange): Output {
    const output = { topic: Topics.segmentChanges.name, record: { key: change.profileId, value: JSON.stringify(this.changeRecord(change)) } };
    return this.changes.mark(output, { segment: change.segmentId, change: change.change, cause: change.cause.kind });
  }

  profileSnapshot(state: ProfileState, memberships: Memberships, at: number): Output {
    const value: Omit<ProfileSnapshotRecord, 'state'> = { profileId: state.profileId, at: new Date(at).toISOString(), segments: memberships };
    return { topic: Topics.profileSnapshots.name, record: { key: state.profileId, value: withSerialised(value, { state: profileJson(state) }) } };
  }

  /** A merged-away (or erased) profile: a tombstone on the compacted snapshots. */
  profileGone(profileId: string): Output {
    return { topic: Topics.profileSnapshots.name, record: { key: profileId, value: null } };
  }

  /**
   * One applied input on the ordered stream triggers read. `updateId` names the input (not the output), so a copy
   * published again after a crash carries the same id.
   */
  profileUpdate(profileId: string, at: number, input: ProfileUpdateInput, state: ProfileState | undefined, memberships: Memberships, changes: readonly SegmentChange[]): Output {
    const value: Omit<ProfileUpdateRecord, 'state'> = {
      updateId: `${profileId}/${inputIdentity(input, at)}`,
      profileId,
      at: new Date(at).toISOString(),
      input,
      segments: memberships,
      changes: changes.map((change) => this.changeRecord(change)),
    };
    return { topic: Topics.profileUpdates.name, record: { key: profileId, value: withSerialised(value, state ? { state: profileJson(state) } : {}) } };
  }

  /** Work for a profile whose writer is the owner of another partition (maybe): re-produced keyed by that profile. */
  transfer(record: ProfileTransferRecord): Output {
    return { topic: Topics.profileTransfers.name, record: { key: record.profileId, value: JSON.stringify(record) } };
  }
}

function inputIdentity(input: ProfileUpdateInput, at: number): string {
  switch (input.kind) {
    case 'event':
      return `event/${input.event.messageId}`;
    case 'timer':
      return `timer/${at}`;
    case 'merge':
      return `merge/${input.loserId}`;
    case 'backfill':
      return input.release === undefined ? `backfill/${input.segmentId}/${input.version}` : `backfill/${input.release}`;
    case 'erasure':
      return 'erasure';
  }
}
