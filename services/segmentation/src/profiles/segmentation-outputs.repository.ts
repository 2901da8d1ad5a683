import { Injectable } from '@nestjs/common';
import { ProfileSnapshotRecord, SegmentChangeRecord, Topics } from '@kairos/contracts';
import { Memberships, ProfileState, SegmentChange } from '@kairos/segmentation';
import { Output } from '@kairos/state-store';

/**
 * Where segmentation's outputs go and how they look on the wire. The StatefulProcessor publishes them (acknowledged)
 * before it commits the state, so a crash in between publishes them again: the ids are deterministic.
 */
@Injectable()
export class SegmentationOutputsRepository {
  segmentChange(change: SegmentChange): Output {
    const value: SegmentChangeRecord = {
      changeId: `${change.profileId}/${change.segmentId}/${change.version}/${change.change}/${change.at}`,
      profileId: change.profileId,
      segmentId: change.segmentId,
      version: change.version,
      change: change.change,
      at: new Date(change.at).toISOString(),
      cause: change.cause,
    };
    return { topic: Topics.segmentChanges.name, record: { key: change.profileId, value: JSON.stringify(value) } };
  }

  profileSnapshot(state: ProfileState, memberships: Memberships, at: number): Output {
    const value: ProfileSnapshotRecord = { profileId: state.profileId, at: new Date(at).toISOString(), state: { ...state }, segments: memberships };
    return { topic: Topics.profileSnapshots.name, record: { key: state.profileId, value: JSON.stringify(value) } };
  }

  /** A merged-away (or erased) profile: a tombstone on the compacted snapshots. */
  profileGone(profileId: string): Output {
    return { topic: Topics.profileSnapshots.name, record: { key: profileId, value: null } };
  }
}
