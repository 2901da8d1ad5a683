import { ConfigOf, loadConfig, port, serviceVariables } from '@kairos/config';

export const dispatchVariables = {
  ...serviceVariables(9105),
  DISPATCH_PORT: port(8083, 'Public HTTP port: unsubscribe, open and click endpoints'),
};

export type DispatchConfig = ConfigOf<typeof dispatchVariables>;

export function loadDispatchConfig(env: NodeJS.ProcessEnv = process.env): DispatchConfig {
  return loadConfig(dispatchVariables, env);
}
