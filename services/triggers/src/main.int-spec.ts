import { expectServiceLifecycle } from '@kairos/testing';
import { startTriggers } from './main';

describe('the triggers service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    await expectServiceLifecycle(startTriggers);
  });
});
