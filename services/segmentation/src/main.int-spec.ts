import { expectServiceLifecycle } from '@kairos/testing';
import { startSegmentation } from './main';

describe('the segmentation service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    await expectServiceLifecycle(startSegmentation);
  });
});
