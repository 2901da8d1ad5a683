/** A record as a consumer received it. Headers are decoded as UTF-8; Kairos only writes text headers. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Broker or producer timestamp, epoch milliseconds as a string (as kafkajs gives it). */
  readonly timestamp: string;
}

/** A consumed record with its value decoded by the subscription's decoder. */
export interface DecodedRecord<T> extends ConsumedRecord {
  readonly data: T;
}

export interface OutgoingRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  timestamp?: string;
  /** Only where a test or tool must place a record; Kairos otherwise partitions by key. */
  partition?: number;
}

/** A record a handler refused for a reason of its domain; it goes to the dead-letter topic with that detail. */
export interface RecordRejection {
  record: ConsumedRecord;
  detail: string;
}

export interface BatchOutcome {
  rejected?: RecordRejection[];
}
