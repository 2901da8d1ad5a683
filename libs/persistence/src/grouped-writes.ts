/**
 * Group commit for writes that many callers make one at a time: an item submitted while `concurrency` writes are
 * running waits, and everything waiting goes together in the next write (at most `maxItems`). With a write free, an
 * item goes on the next turn of the event loop, with whatever else was submitted in the same turn; so an idle system
 * adds no delay, and a busy one pays one statement per group rather than one per item.
 *
 * `write` answers one result per item, in order. If a group's write fails, each of its items is written again alone
 * (in the same slot): one bad item, or a statement chosen as a deadlock's victim, does not fail the others; an item
 * whose own write fails is rejected with that error (the caller retries or gives up, as for a write of its own).
 */
export class GroupedWrites<Item, Result> {
  private readonly waiting: Array<{ item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }> = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly write: (items: Item[]) => Promise<Result[]>,
    private readonly options: { concurrency: number; maxItems: number },
  ) {
    if (options.concurrency < 1 || options.maxItems < 1) throw new Error(`GroupedWrites needs concurrency and maxItems of at least 1, not ${options.concurrency} and ${options.maxItems}`);
  }

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items submitted and not yet in a write. */
  get pending(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.running < this.options.concurrency && this.waiting.length > 0) this.start(this.waiting.splice(0, this.options.maxItems));
    });
  }

  private start(group: GroupedWrites<Item, Result>['waiting']): void {
    this.running += 1;
    void this.writeGroup(group)
      .catch(async (error: unknown) => {
        if (group.length === 1) return group[0]?.reject(error);
        for (const entry of group) await this.writeGroup([entry]).catch((alone: unknown) => entry.reject(alone));
      })
      .finally(() => {
        this.running -= 1;
        this.schedule();
      });
  }

  /** Writes a group and answers its items; rejects (answering none) if the write fails. */
  private async writeGroup(group: GroupedWrites<Item, Result>['waiting']): Promise<void> {
    const results = await this.write(group.map((entry) => entry.item));
    if (results.length !== group.length) throw new Error(`a grouped write answered ${results.length} results for ${group.length} items`);
    group.forEach((entry, index) => entry.resolve(results[index] as Result));
  }
}
