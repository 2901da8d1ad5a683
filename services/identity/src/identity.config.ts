import { ConfigOf, integer, loadConfig, port, serviceVariables, text } from '@kairos/config';

export const identityVariables = {
  ...serviceVariables(9102),
  IDENTITY_API_PORT: port(8081, 'Internal HTTP API (erasure requests); keep it off the public internet'),
  IDENTITY_RULES: text({
    description:
      'Identity rules as JSON, overriding the defaults per type: {"rules":[{"type":"email","limit":3,"priority":2,"windowDays":30,"unique":false}],' +
      '"caps":{"mergesPerProfile":100,"identifiersPerProfile":1000,"profilesPerIdentifier":50}}',
    optional: true,
  }),
  IDENTITY_BLOCKED_VALUES: text({ description: 'Comma-separated identifier values never used to match, e.g. the shop\'s test addresses', optional: true }),
  IDENTITY_CACHE_PROFILES: integer({ description: 'Profiles kept in memory between batches', default: 200_000, minimum: 0 }),
  IDENTITY_ERASURE_RETRY_SECONDS: integer({ description: 'How often erasures recorded but not yet published (the broker refused them) are published again', default: 30, minimum: 1 }),
};

export type IdentityConfig = ConfigOf<typeof identityVariables>;

export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  return loadConfig(identityVariables, env);
}
