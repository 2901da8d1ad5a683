import { createRequire } from 'node:module';
import { encodeProduceRequest, installProduceEncoding, ProduceRequestOptions } from './produce-encoding';

const kafkajs = createRequire(require.resolve('kafkajs'));
type Request = (options: ProduceRequestOptions) => { apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
// Taken before any test installs the encoder in its place: kafkajs' own.
const kafkajsRequest = kafkajs('./src/protocol/requests/produce/v3/request') as Request;
const Long = kafkajs('./src/utils/long') as { fromValue(value: unknown): unknown };

async function kafkajsBytes(options: ProduceRequestOptions): Promise<Buffer> {
  return (await kafkajsRequest(options).encode()).buffer;
}

const state = JSON.stringify({ profileId: 'p-1', traits: { name: 'Zoë Müller 🎉', note: 'quotes " and \\ and \n' }, buckets: Array.from({ length: 40 }, (_, day) => [day, day * 2.5]) });

describe('encodeProduceRequest', () => {
  it('writes the bytes kafkajs writes: several topics and partitions, string and Buffer values, headers, an idempotent producer', async () => {
    const options: ProduceRequestOptions = {
      acks: -1,
      timeout: 30_000,
      producerId: Long.fromValue(4711),
      producerEpoch: 3,
      topicData: [
        {
          topic: 'kairos.profile-updates',
          partitions: [
            {
              partition: 2,
              firstSequence: 1_234,
              messages: Array.from({ length: 50 }, (_, index) => ({
                key: `profile-${index}`,
                value: state,
                headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, 'kairos-many': ['one', Buffer.from('two')] },
                timestamp: String(1_765_000_000_000 + index * 7),
              })),
            },
            { partition: 0, firstSequence: 0, messages: [{ key: Buffer.from([0, 255, 1]), value: Buffer.alloc(300, 9), timestamp: '1765000000000' }] },
          ],
        },
        { topic: 'kairos.dead-letters.ü', partitions: [{ partition: 1, messages: [{ key: null, value: null, headers: { empty: '' }, timestamp: 1_765_000_000_500 }] }] },
      ],
    };
    expect(encodeProduceRequest(options).equals(await kafkajsBytes(options))).toBe(true);
  });

  it('writes the same bytes for transactional requests, batches without timestamps and deltas beyond 32 bits', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(1_765_000_000_000);
    try {
      const options: ProduceRequestOptions = {
        acks: 1,
        timeout: 5_000,
        transactionalId: 'kairos-tx',
        topicData: [
          { topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'now' }, { key: 'k', value: 'also now' }] }] },
          // 10 days (2^33 ms) apart: a delta kafkajs encodes as a true 64-bit varlong.
          { topic: 'u', partitions: [{ partition: 3, messages: [{ value: 'old', timestamp: '1756360000000' }, { value: 'new', timestamp: '1765000000000' }] }] },
        ],
      };
      expect(encodeProduceRequest(options).equals(await kafkajsBytes(options))).toBe(true);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('writes the same bytes for batches with and without timestamps, timestamps of different lengths, and none at all', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(1_765_000_000_000);
    try {
      const options: ProduceRequestOptions = {
        acks: -1,
        timeout: 1_000,
        topicData: [
          // Sorted as strings, as kafkajs sorts them: '999999999999' comes after '1765000000000'.
          { topic: 't', partitions: [{ partition: 0, messages: [{ value: 'a', timestamp: '1765000000000' }, { value: 'b' }, { value: 'c', timestamp: '999999999999' }, { value: 'd', timestamp: 1_765_000_000_100 }] }] },
          { topic: 'u', partitions: [{ partition: 1, messages: [] }] },
        ],
      };
      expect(encodeProduceRequest(options).equals(await kafkajsBytes(options))).toBe(true);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('refuses what kafkajs refuses: a header without a value, a value that is neither a string nor a Buffer', async () => {
    const header: ProduceRequestOptions = { acks: -1, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', headers: { empty: null } }] }] }] };
    const numeric = { acks: -1, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 42 }] }] }] } as unknown as ProduceRequestOptions;
    for (const options of [header, numeric]) {
      await expect(kafkajsBytes(options)).rejects.toThrow(/The "string" argument must be of type string or an instance of Buffer or ArrayBuffer/);
      expect(() => encodeProduceRequest(options)).toThrow(/The "string" argument must be of type string or an instance of Buffer or ArrayBuffer/);
    }
  });

  it('takes the place of kafkajs\' encoder for the produce versions a broker is asked with, but not for compressed batches', async () => {
    expect(installProduceEncoding()).toBe('installed (CRC32C: native)');
    const v7 = kafkajs('./src/protocol/requests/produce/v7/request') as Request;
    const messages = [{ key: 'k', value: state, timestamp: '1765000000000' }];
    const plain: ProduceRequestOptions = { acks: -1, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }] };
    const request = v7(plain);
    expect(request.apiVersion).toBe(7);
    expect((await request.encode()).buffer.equals(encodeProduceRequest(plain))).toBe(true);
    const gzip = { ...plain, compression: 1 };
    expect((await v7(gzip).encode()).buffer.equals(await kafkajsBytes(gzip))).toBe(true);
    expect((await v7(gzip).encode()).buffer.equals(encodeProduceRequest(plain))).toBe(false);
  });

  it('checksums each batch as the broker checks it (CRC32C over attributes to the last record)', async () => {
    const options: ProduceRequestOptions = { acks: -1, timeout: 1_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'a', value: state, timestamp: '1765000000000' }] }] }] };
    const bytes = encodeProduceRequest(options);
    // transactionalId (2) acks (2) timeout (4) topics (4) topic (2 + 1) partitions (4) partition (4) size (4)
    // firstOffset (8) length (4) leaderEpoch (4) magic (1): the CRC follows.
    const crcAt = 2 + 2 + 4 + 4 + 3 + 4 + 4 + 4 + 8 + 4 + 4 + 1;
    const crc32C = kafkajs('./src/protocol/recordBatch/crc32C') as (bytes: Buffer) => number;
    expect(bytes.readUInt32BE(crcAt)).toBe(crc32C(bytes.subarray(crcAt + 4)));
  });
});
