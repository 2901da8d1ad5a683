import { ConfigOf, loadConfig, serviceVariables, stateStoreVariables } from '@kairos/config';

export const segmentationVariables = {
  ...serviceVariables(9103),
  ...stateStoreVariables,
};

export type SegmentationConfig = ConfigOf<typeof segmentationVariables>;

export function loadSegmentationConfig(env: NodeJS.ProcessEnv = process.env): SegmentationConfig {
  return loadConfig(segmentationVariables, env);
}
