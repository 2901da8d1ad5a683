import { LRUCache } from 'lru-cache';
import { DueTimers } from './due-timers';
import type { OwnedPartitionState, StateStore } from './state-store';
import { StateTransaction } from './state-transaction';
import { compareTimers, Timer } from './timer';

/** The committed timers of one partition, served page by page as StateStore.dueTimers does (pages of 500). */
function fakeStore(committed: Timer[]): { store: StateStore<unknown>; queries: number } {
  const sorted = [...committed].sort(compareTimers);
  const fake = {
    queries: 0,
    store: {
      dueTimers: async (_partition: number, upTo: number, after: Timer | undefined, limit: number) => {
        fake.queries += 1;
        return sorted.filter((timer) => timer.dueAt <= upTo && (!after || compareTimers(timer, after) > 0)).slice(0, limit);
      },
      // The states of a page's keys (preloaded with the page): none stored here.
      loadSerialised: async (_owned: unknown, keys: readonly string[]) => new Map(keys.map((key) => [key, undefined])),
    } as unknown as StateStore<unknown>,
  };
  return fake;
}

function transaction(store: StateStore<unknown>): StateTransaction<unknown> {
  const owned: OwnedPartitionState = { partition: 0, epoch: '1', offsets: new Map(), streamTime: 0, cache: new LRUCache({ max: 10 }), nextDue: undefined };
  return new StateTransaction(store, owned);
}

async function drain(due: DueTimers<unknown>, tx: StateTransaction<unknown>, upTo: number): Promise<string[]> {
  const fired: string[] = [];
  for (let timer = await due.next(upTo); timer; timer = await due.next(upTo)) {
    fired.push(`${timer.key}/${timer.name}@${timer.dueAt}`);
    tx.cancelTimer(timer.key, timer.name);
  }
  return fired;
}

describe('DueTimers', () => {
  it('yields committed and newly set timers in due order, each once, only up to the given time', async () => {
    const { store } = fakeStore([
      { key: 'a', name: 'wait', dueAt: 30 },
      { key: 'b', name: 'wait', dueAt: 10 },
      { key: 'c', name: 'wait', dueAt: 50 },
    ]);
    const tx = transaction(store);
    tx.access(0).setTimer('d', 'wait', 20);
    const due = new DueTimers(store, tx);
    expect(await drain(due, tx, 35)).toEqual(['b/wait@10', 'd/wait@20', 'a/wait@30']);
    // Time moves on: only what became due since.
    expect(await drain(due, tx, 100)).toEqual(['c/wait@50']);
  });

  it('honours what the transaction changed: a replaced timer fires at its new time, a cancelled one and a deleted key not at all', async () => {
    const { store } = fakeStore([
      { key: 'a', name: 'wait', dueAt: 10 },
      { key: 'b', name: 'wait', dueAt: 20 },
      { key: 'c', name: 'wait', dueAt: 30 },
      { key: 'c', name: 'goal', dueAt: 31 },
    ]);
    const tx = transaction(store);
    const state = tx.access(0);
    state.setTimer('a', 'wait', 40);
    state.cancelTimer('b', 'wait');
    state.delete('c');
    expect(await drain(new DueTimers(store, tx), tx, 100)).toEqual(['a/wait@40']);
  });

  it('reads a large backlog page by page rather than all at once', async () => {
    const fake = fakeStore(Array.from({ length: 1_200 }, (_, index) => ({ key: `k${String(index).padStart(4, '0')}`, name: 'wait', dueAt: index })));
    const tx = transaction(fake.store);
    const fired = await drain(new DueTimers(fake.store, tx), tx, 10_000);
    expect(fired).toHaveLength(1_200);
    expect(fired[0]).toBe('k0000/wait@0');
    expect(fired[1_199]).toBe('k1199/wait@1199');
    expect(fake.queries).toBe(3);
  });
});
