import { randomBytes, randomUUID } from 'node:crypto';
import { Partitioners, PartitionMetadata } from 'kafkajs';
import { keyPartition, keyPartitioner } from './key-partition';

const metadata = (partitions: number): PartitionMetadata[] => Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

describe('keyPartition', () => {
  // kafkajs' own default partitioner (the Java client's murmur2) is the reference: a record must land where every
  // other Kafka producer would put its key, and where the state of that key was stored before this hash existed.
  const reference = Partitioners.DefaultPartitioner();
  const keys = [
    '',
    'a',
    'ab',
    'abc',
    'abcd',
    'abcde',
    'Zoë',
    'Grüezi, Stadtzürich 🏔',
    '00000000-0000-4000-8000-000000000001',
    'x'.repeat(300),
    ...Array.from({ length: 2_000 }, () => randomUUID()),
    ...Array.from({ length: 500 }, (_, index) => randomBytes(index % 40).toString('latin1')),
  ];

  it.each([1, 4, 12, 50])('places every key as kafkajs does among %i partitions', (partitions) => {
    const expected = keys.map((key) => reference({ topic: 't', partitionMetadata: metadata(partitions), message: { key, value: null } }));
    expect(keys.map((key) => keyPartition(key, partitions))).toEqual(expected);
    expect(keys.map((key) => keyPartition(Buffer.from(key), partitions))).toEqual(expected);
  });

  it('as a kafkajs partitioner: an explicit partition wins, a key is hashed, no key goes round-robin', () => {
    const partitioner = keyPartitioner();
    const partitionMetadata = metadata(4);
    expect(partitioner({ topic: 't', partitionMetadata, message: { key: 'k', value: null, partition: 3 } })).toBe(3);
    const key = randomUUID();
    expect(partitioner({ topic: 't', partitionMetadata, message: { key, value: null } })).toBe(keyPartition(key, 4));
    const keyless = Array.from({ length: 8 }, () => partitioner({ topic: 't', partitionMetadata, message: { value: 'v' } }));
    expect(new Set(keyless).size).toBe(4);
  });
});
