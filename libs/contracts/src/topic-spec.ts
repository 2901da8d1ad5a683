export type CleanupPolicy = 'delete' | 'compact';

/**
 * Who creates a topic: the stage that produces it, or `admin` — the `npm run topics` command (and, later,
 * `kairos publish`) — for a topic no stage produces. Everyone else waits for it to exist.
 */
export type TopicOwner = 'ingestion' | 'identity' | 'segmentation' | 'triggers' | 'dispatch' | 'admin';

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
  /**
   * Topics of one group share a key space and are consumed together by stateful stages, so they must have the same
   * partition count: otherwise a profile's records land on partitions owned by different instances.
   */
  readonly coPartitionGroup?: string;
}

/** A topic of the catalogue: every one has an owner. */
export interface CatalogueTopic extends TopicSpec {
  readonly owner: TopicOwner;
}
