import { ALL_TOPICS, coPartitionGroups, Topics } from './topics';

describe('the topic catalogue', () => {
  it('gives the topics of each co-partition group one partition count', () => {
    for (const group of coPartitionGroups(ALL_TOPICS)) {
      const counts = new Set(group.topics.map((name) => ALL_TOPICS.find((topic) => topic.name === name)?.partitions));
      expect({ group: group.group, counts: [...counts] }).toEqual({ group: group.group, counts: [6] });
    }
  });

  it('co-partitions the profile-keyed topics that stateful stages read together', () => {
    expect(coPartitionGroups(ALL_TOPICS)).toEqual([
      {
        group: 'profile',
        topics: [
          Topics.resolved.name,
          Topics.merges.name,
          Topics.erasures.name,
          Topics.segmentChanges.name,
          Topics.profileSnapshots.name,
          Topics.profileUpdates.name,
          Topics.profileTransfers.name,
          Topics.dispatchRequests.name,
          Topics.deliveryOutcomes.name,
          Topics.journeyOutcomes.name,
          Topics.journeysTransfers.name,
        ],
      },
    ]);
  });
});
