import { ICustomPartitioner, Partitioners } from 'kafkajs';

const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which kafkajs' default partitioner reproduces), in 32-bit
 * integer arithmetic. kafkajs computes it with a 64-bit Long object per step: ~5% of a stateful stage's CPU and a
 * share of its garbage, for a key of 36 characters, twice per output (it also sized the request).
 */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest === 3) h ^= data[tail + 2] << 16;
  if (rest >= 2) h ^= data[tail + 1] << 8;
  if (rest >= 1) h = Math.imul(h ^ data[tail], M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

/** Reused for ASCII keys (every id Kairos makes): their UTF-8 bytes are their char codes, and no Buffer is made. */
const scratch = new Uint8Array(256);

function keyHash(key: string | Buffer): number {
  if (typeof key !== 'string') return murmur2(key);
  if (key.length > scratch.length) return murmur2(Buffer.from(key));
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code > 0x7f) return murmur2(Buffer.from(key));
    scratch[i] = code;
  }
  return murmur2(scratch, key.length);
}

/** The partition of a key among `partitions`: the Java client's and kafkajs' default placement. */
export function keyPartition(key: string | Buffer, partitions: number): number {
  return (keyHash(key) & 0x7fffffff) % partitions;
}

/**
 * kafkajs' default partitioner with the hash above: an explicit partition wins, a key is hashed, a record without
 * either goes round-robin (kafkajs' own code).
 */
export const keyPartitioner: ICustomPartitioner = () => {
  const roundRobin = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) return keyPartition(message.key, partitionMetadata.length);
    return roundRobin(args);
  };
};
