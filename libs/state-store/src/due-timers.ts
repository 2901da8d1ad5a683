import type { StateStore } from './state-store';
import type { StateTransaction } from './state-transaction';
import { compareTimers, Timer } from './timer';

const PAGE = 500;

/**
 * The timers of one partition that come due, in order, as a transaction sees them: committed timers read page by page
 * from the database (never all at once: a partition may hold a million), merged with the timers the transaction itself
 * set, minus those it cancelled, replaced or fired. Asked with a growing `upTo` (the event time of each record of a
 * batch, or the wall clock), it yields each due timer once.
 */
export class DueTimers<S> {
  private page: Timer[] = [];
  private cursor: Timer | undefined;
  /** The database holds no further committed timer due at or before this time (after the cursor). */
  private exhaustedUpTo = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: StateStore<S>,
    private readonly transaction: StateTransaction<S>,
  ) {}

  /** The next timer due at or before `upTo`, or undefined. The caller fires it (cancelling it in the transaction). */
  async next(upTo: number): Promise<Timer | undefined> {
    for (;;) {
      const committed = await this.nextCommitted(upTo);
      const own = this.transaction.firstOwnTimerDue(upTo);
      if (committed && (!own || compareTimers(committed, own) <= 0)) {
        this.page.shift();
        // A committed timer the transaction changed is represented by the change (or is gone).
        if (this.transaction.hasOwnTimer(committed) || !this.transaction.effectiveTimer(committed)) continue;
        return committed;
      }
      return own;
    }
  }

  private async nextCommitted(upTo: number): Promise<Timer | undefined> {
    if (this.page.length === 0 && upTo > this.exhaustedUpTo) {
      // The partition's earliest committed timer, when known, spares the query for every record before it: asked
      // once per record, the query was a round trip per event even with no timer near.
      const earliest = this.transaction.owned.nextDue;
      if (earliest !== undefined && upTo < earliest) {
        this.exhaustedUpTo = upTo;
        return undefined;
      }
      this.page = await this.store.dueTimers(this.transaction.owned.partition, upTo, this.cursor, PAGE);
      if (this.page.length > 0) this.cursor = this.page[this.page.length - 1];
      // Their states in one query, not one per timer as each is applied (80,000 birthdays at 09:00 are 80,000 keys).
      await this.transaction.preload(this.page.map((timer) => timer.key));
      if (this.page.length < PAGE) this.exhaustedUpTo = upTo;
    }
    const head = this.page[0];
    return head && head.dueAt <= upTo ? head : undefined;
  }
}
