import type { OwnedPartitionState, StateStore } from './state-store';
import { compareTimers, Timer, timerId } from './timer';

/** What a stateful handler may do while it applies one input. */
export interface StateAccess<S> {
  /** The clock of this input: its event time, or a timer's due time, so a replay decides as the live run did. */
  readonly now: number;
  get(key: string): Promise<S | undefined>;
  put(key: string, state: S): void;
  /** Removes the key's state and every timer of it (an erasure). */
  delete(key: string): void;
  setTimer(key: string, name: string, dueAt: number, payload?: unknown): void;
  cancelTimer(key: string, name: string): void;
}

/**
 * The changes of one batch (or one round of fired timers) to one partition, applied by StateStore.commit in a
 * single database transaction. States are kept serialised: what get() returns is always a fresh object, so a handler
 * that mutates it cannot corrupt the cache of committed state.
 */
export class StateTransaction<S> {
  private readonly states = new Map<string, string | undefined>();
  private readonly loaded = new Map<string, string | undefined>();
  private readonly timers = new Map<string, Timer | null>();
  private readonly clearedKeys = new Set<string>();
  /** No timer this transaction set is due before this (a lower bound: cancelling does not raise it). */
  private earliestSet = Number.POSITIVE_INFINITY;
  private readonly nextOffsets = new Map<string, bigint>();
  streamTime: number;

  constructor(
    private readonly store: StateStore<S>,
    readonly owned: OwnedPartitionState,
  ) {
    this.streamTime = owned.streamTime;
  }

  /** Records before this offset of the topic are already reflected in the committed state. */
  nextOffset(topic: string): bigint {
    return this.nextOffsets.get(topic) ?? this.owned.offsets.get(topic) ?? 0n;
  }

  advance(topic: string, nextOffset: bigint): void {
    if (nextOffset > this.nextOffset(topic)) this.nextOffsets.set(topic, nextOffset);
  }

  observe(time: number): void {
    if (time > this.streamTime) this.streamTime = time;
  }

  /** Loads the keys' committed states in one query (or from the cache), ahead of the handler asking one by one. */
  async preload(keys: Iterable<string>): Promise<void> {
    const wanted = [...new Set(keys)].filter((key) => !this.loaded.has(key) && !this.states.has(key));
    if (wanted.length === 0) return;
    for (const [key, value] of await this.store.loadSerialised(this.owned, wanted)) this.loaded.set(key, value);
  }

  access(now: number): StateAccess<S> {
    return {
      now,
      get: (key) => this.get(key),
      put: (key, state) => void this.states.set(key, this.store.serialise(state)),
      delete: (key) => {
        this.states.set(key, undefined);
        this.clearedKeys.add(key);
        for (const [id, timer] of this.timers) if (timer?.key === key) this.timers.delete(id);
      },
      setTimer: (key, name, dueAt, payload) => {
        this.timers.set(timerId(key, name), { key, name, dueAt, ...(payload === undefined ? {} : { payload }) });
        this.earliestSet = Math.min(this.earliestSet, dueAt);
      },
      cancelTimer: (key, name) => this.cancelTimer(key, name),
    };
  }

  cancelTimer(key: string, name: string): void {
    this.timers.set(timerId(key, name), null);
  }

  /**
   * The timer as this transaction sees it: its own change if it made one, gone if it cleared the key, otherwise the
   * committed one (as read from the database by the caller).
   */
  effectiveTimer(committed: Timer): Timer | undefined {
    const id = timerId(committed.key, committed.name);
    if (this.timers.has(id)) return this.timers.get(id) ?? undefined;
    return this.clearedKeys.has(committed.key) ? undefined : committed;
  }

  /** The first (in firing order) of the timers this transaction set that is due at or before `upTo`. */
  firstOwnTimerDue(upTo: number): Timer | undefined {
    // Asked before every record of a batch; records mostly set timers in the future, so the bound skips the scan.
    if (upTo < this.earliestSet) return undefined;
    let first: Timer | undefined;
    for (const timer of this.timers.values()) if (timer && timer.dueAt <= upTo && (!first || compareTimers(timer, first) < 0)) first = timer;
    return first;
  }

  hasOwnTimer(timer: Timer): boolean {
    return this.timers.has(timerId(timer.key, timer.name));
  }

  changedStates(): ReadonlyMap<string, string | undefined> {
    return this.states;
  }

  offsets(): ReadonlyMap<string, bigint> {
    return this.nextOffsets;
  }

  /** The timers set, the keys whose every timer goes, and the cancelled timers' keys by timer name. */
  timerChanges(): { clearedKeys: string[]; cancelled: Map<string, string[]>; set: Timer[] } {
    const cancelled = new Map<string, string[]>();
    const set: Timer[] = [];
    for (const [id, timer] of this.timers) {
      if (timer) set.push(timer);
      else {
        const [key, name] = id.split('\u0000');
        const keys = cancelled.get(name);
        if (keys) keys.push(key);
        else cancelled.set(name, [key]);
      }
    }
    return { clearedKeys: [...this.clearedKeys], cancelled, set };
  }

  private async get(key: string): Promise<S | undefined> {
    if (!this.states.has(key) && !this.loaded.has(key)) await this.preload([key]);
    const serialised = this.states.has(key) ? this.states.get(key) : this.loaded.get(key);
    return serialised === undefined ? undefined : (JSON.parse(serialised) as S);
  }
}
