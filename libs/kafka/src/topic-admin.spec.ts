import { TopicSpec } from '@kairos/contracts';
import { topicDifferences } from './topic-admin';

const spec: TopicSpec = { name: 't', key: 'k', value: 'v', partitions: 6, cleanupPolicy: 'compact', retentionMs: -1, description: 'test' };

describe('topicDifferences', () => {
  it('names every setting in which a topic differs from its spec and the creation settings', () => {
    const actual = { name: 't', partitions: 3, replicationFactor: 1, minInsyncReplicas: 1, cleanupPolicy: 'delete', retentionMs: 604_800_000 };
    expect(topicDifferences(spec, actual, { replicationFactor: 3, minInsyncReplicas: 2 })).toEqual([
      'partitions is 3, wanted 6',
      'replication factor is 1, wanted 3',
      'min.insync.replicas is 1, wanted 2',
      'cleanup.policy is delete, wanted compact',
      'retention.ms is 604800000, wanted -1',
    ]);
  });

  it('compares partitions with the override and ignores what nobody asked for', () => {
    const actual = { name: 't', partitions: 2, replicationFactor: 1, cleanupPolicy: 'compact', retentionMs: -1 };
    expect(topicDifferences(spec, actual, { partitions: 2 })).toEqual([]);
  });
});
