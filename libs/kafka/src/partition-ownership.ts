export interface OwnedPartition {
  topic: string;
  partition: number;
}

/** What a stateful stage does when partitions come or go: load or fence their state, drop their caches. */
export interface OwnershipListener {
  assigned?(partitions: readonly OwnedPartition[]): Promise<void> | void;
  revoked?(partitions: readonly OwnedPartition[]): Promise<void> | void;
  /**
   * The consumer is done with a batch of the partition (handled, dead-lettered, or both) and this many records of
   * it remain: also told of a batch none of whose records reached the handler, which alone cannot know it is caught up.
   */
  progressed?(partition: OwnedPartition, lag: bigint): void;
}

const keyOf = (topic: string, partition: number) => `${topic}#${partition}`;

/**
 * The partitions this process owns in its consumer group, and the hooks of whoever keeps state per partition.
 *
 * kafkajs announces an assignment only after the group re-formed (GROUP_JOIN) and has no "before revocation" hook,
 * so a revoked partition may already be processed by its new owner when `revoked` runs: state stores must fence
 * (an epoch per partition) rather than rely on being told in time. Changes are applied one at a time, in order, and
 * the consumer waits for them (`settled`) before it hands a batch to a handler, so a handler never sees a record of a
 * partition whose `assigned` hook has not finished.
 */
export class PartitionOwnership {
  private readonly owned = new Map<string, OwnedPartition>();
  private readonly listeners: OwnershipListener[] = [];
  private changes: Promise<void> = Promise.resolve();
  private memberId: string | undefined;

  listen(listener: OwnershipListener): void {
    this.listeners.push(listener);
  }

  owns(topic: string, partition: number): boolean {
    return this.owned.has(keyOf(topic, partition));
  }

  partitions(): OwnedPartition[] {
    return [...this.owned.values()];
  }

  /**
   * The consumer's new assignment (topic -> partitions) and its member id; resolves when every hook ran. A new member
   * id means the group evicted this member and it joined again: whatever it held may have had another owner since
   * (who fenced it), so everything counts as revoked and re-assigned, even partitions it gets back.
   */
  update(assignment: Readonly<Record<string, readonly number[]>>, memberId?: string): Promise<void> {
    const next = new Map<string, OwnedPartition>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const partition of partitions) next.set(keyOf(topic, partition), { topic, partition });
    const rejoined = memberId !== undefined && this.memberId !== undefined && memberId !== this.memberId;
    if (memberId !== undefined) this.memberId = memberId;
    const change = this.changes.then(async () => {
      const revoked = [...this.owned].filter(([key]) => rejoined || !next.has(key)).map(([, owned]) => owned);
      const assigned = [...next].filter(([key]) => !this.owned.has(key)).map(([, owned]) => owned);
      for (const owned of revoked) this.owned.delete(keyOf(owned.topic, owned.partition));
      if (revoked.length > 0) for (const listener of this.listeners) await listener.revoked?.(revoked);
      for (const owned of assigned) this.owned.set(keyOf(owned.topic, owned.partition), owned);
      if (assigned.length > 0) for (const listener of this.listeners) await listener.assigned?.(assigned);
    });
    // A failing hook must not wedge later changes; update()'s caller sees the failure (and logs it), and stateful
    // stages acquire a partition they find missing when its next batch or timer round comes.
    this.changes = change.catch(() => undefined);
    return change;
  }

  /** The consumer finished a batch of the partition; `lag` records of it remain after the batch. */
  progressed(topic: string, partition: number, lag: bigint): void {
    for (const listener of this.listeners) {
      try {
        listener.progressed?.({ topic, partition }, lag);
      } catch {
        // Told after the batch committed: a listener's failure is not the batch's; the next batch tells it again.
      }
    }
  }

  /** Everything is released: the consumer stopped or crashed. */
  releaseAll(): Promise<void> {
    this.memberId = undefined;
    return this.update({});
  }

  /** Resolves once the changes announced so far are applied. */
  settled(): Promise<void> {
    return this.changes;
  }
}
