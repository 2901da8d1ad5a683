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

  it("rejects every item of a failed group with the write's error and goes on with the next group", async () => {
    const held = heldWrites();
    const writes = new GroupedWrites(held.write, { concurrency: 1, maxItems: 10 });
    const failing = [1, 2].map((item) => writes.submit(item));
    await turn();
    const next = writes.submit(3);
    held.finish[0](new Error('connection terminated'));
    await expect(failing[0]).rejects.toThrow('connection terminated');
    await expect(failing[1]).rejects.toThrow('connection terminated');
    await turn();
    held.finish[1]([3]);
    await expect(next).resolves.toBe(3);
  });

  it('rejects a group whose write answers the wrong number of results', async () => {
    const writes = new GroupedWrites(async () => [1], { concurrency: 1, maxItems: 10 });
    const answers = [writes.submit(1), writes.submit(2)];
    await expect(answers[0]).rejects.toThrow('a grouped write answered 1 results for 2 items');
    await expect(answers[1]).rejects.toThrow('a grouped write answered 1 results for 2 items');
  });

  it('rejects a group whose write throws before it returns a promise', async () => {
    const writes = new GroupedWrites<number, number>(() => {
      throw new Error('not connected');
    }, { concurrency: 1, maxItems: 10 });
    await expect(writes.submit(1)).rejects.toThrow('not connected');
  });

  it('refuses a concurrency or group size below one', () => {
    expect(() => new GroupedWrites(async () => [], { concurrency: 0, maxItems: 10 })).toThrow('GroupedWrites needs concurrency and maxItems of at least 1, not 0 and 10');
  });
});
