import { GroupedWrites } from './grouped-writes';

/** A write that the test finishes by hand, recording the groups it was given. */
function heldWrites() {
  const groups: number[][] = [];
  const finish: Array<(outcome: number[] | Error) => void> = [];
  const write = (items: number[]) => {
    groups.push(items);
    return new Promise<number[]>((resolve, reject) => finish.push((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))));
  };
  return { groups, finish, write };
}

/** A few turns of the event loop: the finished write's bookkeeping, then the next group's start. */
const turn = async () => {
  for (let round = 0; round < 3; round++) await new Promise((resolve) => setImmediate(resolve));
};

describe('GroupedWrites', () => {
  it('writes what is submitted in one turn as one group, and answers each item its own result', async () => {
    const held = heldWrites();
    const writes = new GroupedWrites(held.write, { concurrency: 2, maxItems: 100 });
    const answers = [1, 2, 3].map((item) => writes.submit(item));
    await turn();
    expect(held.groups).toEqual([[1, 2, 3]]);
    held.finish[0]([10, 20, 30]);
    await expect(Promise.all(answers)).resolves.toEqual([10, 20, 30]);
  });

  it('groups what waits while the writes are busy, at most maxItems a write', async () => {
    const held = heldWrites();
    const writes = new GroupedWrites(held.write, { concurrency: 1, maxItems: 3 });
    const first = writes.submit(1);
    await turn();
    const later = [2, 3, 4, 5, 6].map((item) => writes.submit(item));
    await turn();
    expect(held.groups).toEqual([[1]]);
    expect(writes.pending).toBe(5);

    held.finish[0]([1]);
    await first;
    await turn();
    expect(held.groups).toEqual([[1], [2, 3, 4]]);
    held.finish[1]([2, 3, 4]);
    await turn();
    expect(held.groups).toEqual([[1], [2, 3, 4], [5, 6]]);
    held.finish[2]([5, 6]);
    await expect(Promise.all(later)).resolves.toEqual([2, 3, 4, 5, 6]);
  });

  it('writes each item of a failed group again alone, so a bad item fails by itself', async () => {
    const groups: number[][] = [];
    const writes = new GroupedWrites<number, number>(
      async (items) => {
        groups.push(items);
        if (items.includes(2)) throw new Error('invalid byte sequence in item 2');
        return items.map((item) => item * 10);
      },
      { concurrency: 1, maxItems: 10 },
    );
    const answers = [1, 2, 3].map((item) => writes.submit(item));
    await expect(answers[0]).resolves.toBe(10);
    await expect(answers[1]).rejects.toThrow('invalid byte sequence in item 2');
    await expect(answers[2]).resolves.toBe(30);
    expect(groups).toEqual([[1, 2, 3], [1], [2], [3]]);
    await expect(writes.submit(4)).resolves.toBe(40);
  });

  it('rejects items whose write answers the wrong number of results', async () => {
    const writes = new GroupedWrites<number, number>(async () => [], { concurrency: 1, maxItems: 10 });
    const answers = [writes.submit(1), writes.submit(2)];
    await expect(answers[0]).rejects.toThrow('a grouped write answered 0 results for 1 items');
    await expect(answers[1]).rejects.toThrow('a grouped write answered 0 results for 1 items');
  });

  it('rejects an item whose write throws before it returns a promise', async () => {
    const writes = new GroupedWrites<number, number>(() => {
      throw new Error('not connected');
    }, { concurrency: 1, maxItems: 10 });
    await expect(writes.submit(1)).rejects.toThrow('not connected');
  });

  it('refuses a concurrency or group size below one', () => {
    expect(() => new GroupedWrites(async () => [], { concurrency: 0, maxItems: 10 })).toThrow('GroupedWrites needs concurrency and maxItems of at least 1, not 0 and 10');
  });
});
