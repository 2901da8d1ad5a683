import { ConfigOf, loadConfig, serviceVariables } from '@kairos/config';

export const segmentationVariables = {
  ...serviceVariables(9103),
};

export type SegmentationConfig = ConfigOf<typeof segmentationVariables>;

export function loadSegmentationConfig(env: NodeJS.ProcessEnv = process.env): SegmentationConfig {
  return loadConfig(segmentationVariables, env);
}
