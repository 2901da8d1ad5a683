import { createRequire } from 'node:module';

/**
 * Produce requests encoded in one pass into one buffer.
 *
 * kafkajs 2.2.4 builds a produce request from a new zero-filled buffer per record (grown, and so copied, as it
 * fills), a `Buffer.from([...])` per varint, a 64-bit Long object per timestamp delta, about seven copies of every byte
 * and a CRC32C in JavaScript: 21 µs for a 1.8 KB record, a fifth of segmentation's CPU per event (it publishes two such
 * records per event). This encoder sizes the request's body first, writes it into one buffer and takes the CRC32C
 * from @node-rs/crc32 (native, prebuilt, no install script): the same bytes (the unit test compares them with
 * kafkajs' encoder), ~3 µs a record (`npm run bench:encoding`). kafkajs' request framing still copies the body twice.
 *
 * It replaces the encode step of kafkajs' Produce v3 request, which v4 to v7 reuse (v7 is what a 3.x broker gets), by
 * swapping the module's export before kafkajs first loads those versions (it does so on a client's first produce).
 * Compressed batches, and any other kafkajs version than the one it was written against, keep kafkajs' own encoder.
 * Under Jest, whose module registry stands in for Node's, the swap happens in that registry: in-process tests use it
 * too.
 */

type HeaderValue = Buffer | string | null | undefined;
interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
  timestamp?: string | number;
}
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}
export interface ProduceRequestOptions {
  acks: number;
  timeout: number;
  compression?: number;
  topicData: Array<{ topic: string; partitions: PartitionData[] }>;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
}
interface LongValue {
  getHighBits(): number;
  getLowBits(): number;
}
interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}
type ProduceRequest = (options: ProduceRequestOptions) => { encode(): Promise<KafkajsEncoder> } & Record<string, unknown>;

const KAFKAJS_VERSION = '2.2.4';
const kafkajs = createRequire(require.resolve('kafkajs'));

interface Internals {
  Long: { fromValue(value: unknown): LongValue; fromInt(value: number): LongValue };
  Encoder: { new (initialSize?: number): KafkajsEncoder & { writeVarLong(value: number): KafkajsEncoder }; sizeOfVarLong(value: number): number };
  crc32c(bytes: Buffer): number;
  crcSource: 'native' | 'javascript';
}

/** kafkajs' own pieces this reuses, loaded on first use (after the version check, when installing). */
let loaded: Internals | undefined;
function internals(): Internals {
  if (loaded) return loaded;
  let crc32c: (bytes: Buffer) => number;
  let crcSource: Internals['crcSource'] = 'native';
  try {
    crc32c = (require('@node-rs/crc32') as { crc32c(input: Buffer): number }).crc32c;
  } catch {
    // A platform without a prebuilt binding (or an install without optional dependencies): kafkajs' own, slower
    // implementation gives the same checksum.
    crc32c = kafkajs('./src/protocol/recordBatch/crc32C') as (bytes: Buffer) => number;
    crcSource = 'javascript';
  }
  loaded = { Long: kafkajs('./src/utils/long') as Internals['Long'], Encoder: kafkajs('./src/protocol/encoder') as Internals['Encoder'], crc32c, crcSource };
  return loaded;
}

const BATCH_HEADER_BYTES = 8 + 4 + 4 + 1 + 4; // firstOffset, length, partitionLeaderEpoch, magic, crc
const BATCH_BODY_HEADER_BYTES = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // attributes … firstSequence, record count
const TRANSACTIONAL = 16;

/**
 * Installs the encoder into kafkajs, once. Says what it did: installed (and with which CRC32C), or why not — another
 * kafkajs version, or produce requests already loaded (a client produced before this ran), which keep kafkajs' own.
 */
export function installProduceEncoding(): string {
  installation ??= install();
  return installation;
}
let installation: string | undefined;

function install(): string {
  const version = (kafkajs('./package.json') as { version: string }).version;
  if (version !== KAFKAJS_VERSION) return `kafkajs ${version} encodes its own produce requests (this encoder was written for ${KAFKAJS_VERSION})`;
  const path = kafkajs.resolve('./src/protocol/requests/produce/v3/request');
  // v4 to v7 take v3's export when they load: one that already has would keep the old encoder.
  for (const later of [4, 5, 6, 7]) {
    if (require.cache[kafkajs.resolve(`./src/protocol/requests/produce/v${later}/request`)]) return `kafkajs had loaded its produce v${later} request already: it encodes its own`;
  }
  const original = kafkajs(path) as ProduceRequest;
  const cached = require.cache[path];
  if (!cached) return 'kafkajs\' produce request is not in the module cache: it encodes its own';
  cached.exports = ((options) => {
    const request = original(options);
    if ((options.compression ?? 0) !== 0) return request;
    return { ...request, encode: async () => asKafkajsEncoder(encodeProduceRequest(options)) };
  }) satisfies ProduceRequest;
  return `installed (CRC32C: ${internals().crcSource})`;
}

function asKafkajsEncoder(bytes: Buffer): KafkajsEncoder {
  const encoder = new (internals().Encoder)(0);
  encoder.buf = bytes;
  encoder.offset = bytes.length;
  return encoder;
}

/** A record's parts, measured before anything is written. */
interface Sized {
  message: Message;
  key: Buffer | string | null;
  keyBytes: number;
  valueBytes: number;
  headers: Array<{ key: string; keyBytes: number; value: HeaderValue; valueBytes: number }>;
  timestampDelta: number;
  offsetDelta: number;
  bodyBytes: number;
}

/** The body of a Produce v3 request (what follows the request header), byte for byte as kafkajs 2.2.4 writes it. */
export function encodeProduceRequest({ acks, timeout, topicData, transactionalId = null, producerId, producerEpoch = 0 }: ProduceRequestOptions): Buffer {
  const { Long, crc32c } = internals();
  const producer = producerId === undefined ? Long.fromInt(-1) : Long.fromValue(producerId);
  const transactional = transactionalId ? TRANSACTIONAL : 0;
  const topics = topicData.map(({ topic, partitions }) => ({
    topic,
    topicBytes: Buffer.byteLength(topic),
    partitions: partitions.map((data) => sizePartition(data)),
  }));
  let size = stringBytes(transactionalId) + 2 + 4 + 4;
  for (const topic of topics) {
    size += 2 + topic.topicBytes + 4;
    for (const partition of topic.partitions) size += 4 + 4 + partition.batchBytes;
  }

  const out = new Writer(Buffer.allocUnsafe(size));
  out.string(transactionalId);
  out.int16(acks);
  out.int32(timeout);
  out.int32(topics.length);
  for (const topic of topics) {
    out.string(topic.topic);
    out.int32(topic.partitions.length);
    for (const { partition, firstSequence, records, firstTimestamp, maxTimestamp, batchBytes } of topic.partitions) {
      out.int32(partition);
      out.int32(batchBytes);
      out.int64(Long.fromInt(0)); // firstOffset
      out.int32(batchBytes - 12); // the batch from partitionLeaderEpoch on
      out.int32(0); // partitionLeaderEpoch
      out.int8(2); // magic
      const crcAt = out.offset;
      out.offset += 4;
      const bodyStart = out.offset;
      out.int16(transactional);
      out.int32(records.length - 1); // lastOffsetDelta
      out.int64(Long.fromValue(firstTimestamp));
      out.int64(Long.fromValue(maxTimestamp));
      out.int64(producer);
      out.int16(producerEpoch);
      out.int32(firstSequence ?? 0);
      out.int32(records.length);
      for (const record of records) writeRecord(out, record);
      out.buf.writeUInt32BE(crc32c(out.buf.subarray(bodyStart, out.offset)), crcAt);
    }
  }
  if (out.offset !== size) throw new Error(`produce request encoded to ${out.offset} bytes, sized for ${size}`);
  return out.buf;
}

function sizePartition({ partition, firstSequence, messages }: PartitionData) {
  // As kafkajs: the batch's first and last timestamps are the smallest and largest given (sorted as it sorts them),
  // or now; a record's delta is from the first.
  const now = Date.now();
  const given = messages.map((message) => message.timestamp).filter((timestamp) => timestamp != null) as Array<string | number>;
  given.sort();
  const firstTimestamp = given.length === 0 ? now : given[0];
  const maxTimestamp = given.length === 0 ? now : given[given.length - 1];
  let batchBytes = BATCH_HEADER_BYTES + BATCH_BODY_HEADER_BYTES;
  const records = messages.map((message, offsetDelta): Sized => {
    const key = message.key ?? null;
    const headers = flattenHeaders(message.headers);
    const timestampDelta = Number(message.timestamp || now) - Number(firstTimestamp);
    const keyBytes = bytesOf(key);
    const valueBytes = bytesOf(message.value);
    let bodyBytes = 1 + varLongBytes(timestampDelta) + varIntBytes(offsetDelta) + varIntBytes(keyBytes) + Math.max(0, keyBytes) + varIntBytes(valueBytes) + Math.max(0, valueBytes) + varIntBytes(headers.length);
    for (const header of headers) bodyBytes += varIntBytes(header.keyBytes) + header.keyBytes + varIntBytes(header.valueBytes) + Math.max(0, header.valueBytes);
    batchBytes += varIntBytes(bodyBytes) + bodyBytes;
    return { message, key, keyBytes, valueBytes, headers, timestampDelta, offsetDelta, bodyBytes };
  });
  return { partition, firstSequence, records, firstTimestamp, maxTimestamp, batchBytes };
}

function writeRecord(out: Writer, record: Sized): void {
  out.varInt(record.bodyBytes);
  out.int8(0); // attributes
  out.varLong(record.timestampDelta);
  out.varInt(record.offsetDelta);
  out.varIntBytes(record.key, record.keyBytes);
  out.varIntBytes(record.message.value, record.valueBytes);
  out.varInt(record.headers.length);
  for (const header of record.headers) {
    out.varIntBytes(header.key, header.keyBytes);
    out.varIntBytes(header.value, header.valueBytes);
  }
}

function flattenHeaders(headers: Message['headers'] = {}): Sized['headers'] {
  const flat: Sized['headers'] = [];
  for (const key of Object.keys(headers)) {
    const value = headers[key];
    const keyBytes = Buffer.byteLength(key);
    for (const one of Array.isArray(value) ? value : [value]) flat.push({ key, keyBytes, value: one, valueBytes: bytesOf(one, false) });
  }
  return flat;
}

/**
 * UTF-8 bytes of a key, value or header value; -1 for none (a key or value may be null, a header value not). Anything
 * but a string or a Buffer is refused with the TypeError kafkajs' encoder throws for it.
 */
function bytesOf(value: HeaderValue, nullable = true): number {
  if (value == null && nullable) return -1;
  return Buffer.isBuffer(value) ? value.length : Buffer.byteLength(value as string);
}

function stringBytes(value: string | null): number {
  return value == null ? 2 : 2 + Buffer.byteLength(value);
}

const zigZag = (value: number) => (value << 1) ^ (value >> 31);

function varIntBytes(value: number): number {
  let encoded = zigZag(value);
  let bytes = 1;
  while ((encoded & 0xffffff80) !== 0) {
    bytes += 1;
    encoded >>>= 7;
  }
  return bytes;
}

/** A 64-bit delta that fits 32 bits encodes as its 32-bit varint; kafkajs' Long arithmetic measures the others. */
function varLongBytes(value: number): number {
  return fitsInt32(value) ? varIntBytes(value) : internals().Encoder.sizeOfVarLong(value);
}

const fitsInt32 = (value: number) => Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff;

class Writer {
  offset = 0;

  constructor(readonly buf: Buffer) {}

  int8(value: number): void {
    this.buf.writeInt8(value, this.offset);
    this.offset += 1;
  }

  int16(value: number): void {
    this.buf.writeInt16BE(value, this.offset);
    this.offset += 2;
  }

  int32(value: number): void {
    this.buf.writeInt32BE(value, this.offset);
    this.offset += 4;
  }

  int64(value: LongValue): void {
    this.buf.writeInt32BE(value.getHighBits(), this.offset);
    this.buf.writeInt32BE(value.getLowBits(), this.offset + 4);
    this.offset += 8;
  }

  string(value: string | null): void {
    if (value == null) return this.int16(-1);
    const bytes = Buffer.byteLength(value);
    this.int16(bytes);
    this.offset += this.buf.write(value, this.offset, bytes, 'utf8');
  }

  varInt(value: number): void {
    let encoded = zigZag(value);
    while ((encoded & 0xffffff80) !== 0) {
      this.buf[this.offset++] = (encoded & 0x7f) | 0x80;
      encoded >>>= 7;
    }
    this.buf[this.offset++] = encoded & 0x7f;
  }

  varLong(value: number): void {
    if (fitsInt32(value)) return this.varInt(value);
    const encoded = new (internals().Encoder)().writeVarLong(value);
    this.offset += encoded.buf.copy(this.buf, this.offset, 0, encoded.offset);
  }

  /** Bytes measured beforehand: a length of -1 for none. */
  varIntBytes(value: HeaderValue, bytes: number): void {
    this.varInt(bytes);
    if (value == null) return;
    if (Buffer.isBuffer(value)) this.offset += value.copy(this.buf, this.offset);
    else this.offset += this.buf.write(value, this.offset, bytes, 'utf8');
  }
}
