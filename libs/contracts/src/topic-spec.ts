export type CleanupPolicy = 'delete' | 'compact';

export interface TopicSpec {
  /** Versioned name; a breaking change to key or value gets a new topic, never an in-place change. */
  readonly name: string;
  /** What the record key is; it decides partitioning and therefore which instance owns the state. */
  readonly key: string;
  /** JSON Schema $id of the value (see libs/contracts/schemas), or a description where the value is opaque. */
  readonly value: string;
  readonly partitions: number;
  readonly cleanupPolicy: CleanupPolicy;
  /** -1 keeps records forever (compacted topics and the replayable event log). */
  readonly retentionMs: number;
  readonly description: string;
}
