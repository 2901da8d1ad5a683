import { IdentityRules } from '@kairos/identity-graph';

export const IDENTITY_SETTINGS = Symbol('kairos.identity.settings');

/** What the use cases need from the configuration, already interpreted. */
export interface IdentitySettings {
  rules: IdentityRules;
  /** Profiles kept in memory between batches; the graph itself lives in PostgreSQL. */
  cacheProfiles: number;
  /** How often erasures whose publish failed are published again. */
  erasureRetryMs: number;
}
