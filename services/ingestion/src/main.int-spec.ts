import { expectServiceLifecycle } from '@kairos/testing';
import { startIngestion } from './main';

describe('the ingestion service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    await expectServiceLifecycle(startIngestion);
  });
});
