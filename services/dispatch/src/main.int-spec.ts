import { expectServiceLifecycle } from '@kairos/testing';
import { startDispatch } from './main';

describe('the dispatch service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    await expectServiceLifecycle(startDispatch);
  });
});
