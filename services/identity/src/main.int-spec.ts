import { expectServiceLifecycle } from '@kairos/testing';
import { startIdentity } from './main';

describe('the identity service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    await expectServiceLifecycle(startIdentity);
  });
});
