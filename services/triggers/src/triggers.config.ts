import { ConfigOf, loadConfig, serviceVariables } from '@kairos/config';

export const triggersVariables = {
  ...serviceVariables(9104),
};

export type TriggersConfig = ConfigOf<typeof triggersVariables>;

export function loadTriggersConfig(env: NodeJS.ProcessEnv = process.env): TriggersConfig {
  return loadConfig(triggersVariables, env);
}
