import { PartitionPasses } from './partition-passes';

describe('PartitionPasses', () => {
  afterEach(() => jest.useRealTimers());

  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };

  it('runs partitions one after the other, and once more for a partition requested while its pass ran', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const passes = new PartitionPasses({
      name: 'test pass',
      pass: async (partition) => {
        order.push(`start ${partition}`);
        if (partition === 0 && order.length === 1) await new Promise<void>((resolve) => (release = resolve));
        order.push(`end ${partition}`);
      },
      owns: () => true,
      warn: () => undefined,
    });
    passes.request(0);
    passes.request(1);
    await settle();
    passes.request(0); // the definitions changed while partition 0's pass ran
    release();
    await settle();
    await passes.stop();
    expect(order).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 0', 'end 0']);
  });

  it('tries a failed pass again with back-off while the partition is owned, and drops it once it is not', async () => {
    jest.useFakeTimers();
    const warnings: string[] = [];
    let owned = true;
    let attempts = 0;
    const passes = new PartitionPasses({
      name: 'test pass',
      pass: async () => {
        attempts += 1;
        throw new Error('the database is away');
      },
      owns: () => owned,
      warn: (message) => warnings.push(message),
    });
    passes.request(3);
    await settle();
    expect(attempts).toBe(1);
    expect(warnings[0]).toMatch(/^test pass of partition 3 stopped: the database is away; trying again in [12]\.\d s$/);
    await jest.advanceTimersByTimeAsync(2_000);
    await settle();
    expect(attempts).toBe(2);
    owned = false;
    await jest.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(attempts).toBe(2);
    await passes.stop();
  });
});
