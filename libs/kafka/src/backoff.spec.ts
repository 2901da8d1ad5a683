import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const policy = { attempts: 6, initialDelayMs: 100, maxDelayMs: 1_000 };

  it('doubles the ceiling each attempt and jitters within its upper half', () => {
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt, () => 1))).toEqual([100, 200, 400, 800]);
  });

  it('never exceeds the maximum delay', () => {
    expect(backoffDelay(policy, 10, () => 1)).toBe(1_000);
  });
});
