import { AssignerProtocol, PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED_ASSIGNER_NAME = 'KairosCoPartitioned';

/**
 * Gives partition p of every subscribed topic to the same member (member p mod n, members sorted by id).
 *
 * A stateful stage keeps a profile's state on the partition its key hashes to, and reads several topics keyed the same
 * way (resolved events, merges, erasures). kafkajs' round-robin assigner deals topic-partitions out one by one across
 * all topics, so partition 3 of one topic and partition 3 of another can land on different members: two instances
 * would then write the same profiles. This assigner keeps them together, as Kafka Streams does for co-partitioned
 * topics. Co-partitioned topics must have the same partition count (start-up checks it).
 */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_ASSIGNER_NAME,
  version: 1,
  async assign({ members, topics }) {
    const memberIds = members.map(({ memberId }) => memberId).sort();
    const assignments: Array<Record<string, number[]>> = memberIds.map(() => ({}));
    for (const topic of topics) {
      for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
        const owner = assignments[partitionId % memberIds.length];
        (owner[topic] ??= []).push(partitionId);
      }
    }
    return memberIds.map((memberId, index) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: assignments[index], userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
