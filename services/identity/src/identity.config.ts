import { ConfigOf, loadConfig, serviceVariables } from '@kairos/config';

export const identityVariables = {
  ...serviceVariables(9102),
};

export type IdentityConfig = ConfigOf<typeof identityVariables>;

export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  return loadConfig(identityVariables, env);
}
