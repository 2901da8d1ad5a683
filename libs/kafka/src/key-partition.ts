import { Partitioners } from 'kafkajs';

const partitioner = Partitioners.DefaultPartitioner();

/**
 * The partition a record with this key lands on among `partitions`, as Kairos producers place it (kafkajs' default,
 * Java-compatible murmur2 partitioner). A stateful stage uses it to tell whether a profile's state belongs to a
 * partition it owns (a merge's loser may live on another one).
 */
export function keyPartition(key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}
