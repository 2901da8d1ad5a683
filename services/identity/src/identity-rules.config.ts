import { describeIssues, SchemaValidator } from '@kairos/contracts';
import { IdentityRules, IdentityRulesOptions } from '@kairos/identity-graph';

const DAY = 24 * 60 * 60 * 1000;

const RULES_SCHEMA = {
  $id: 'kairos:identity-rules-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    rules: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type'],
        additionalProperties: false,
        properties: {
          type: { type: 'string', minLength: 1 },
          priority: { type: 'integer', minimum: 1 },
          limit: { type: 'integer', minimum: 1 },
          windowDays: { type: 'number', exclusiveMinimum: 0 },
          unique: { type: 'boolean' },
        },
      },
    },
    caps: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mergesPerProfile: { type: 'integer', minimum: 0 },
        identifiersPerProfile: { type: 'integer', minimum: 1 },
        profilesPerIdentifier: { type: 'integer', minimum: 1 },
      },
    },
  },
};

interface RulesConfig {
  rules?: Array<{ type: string; priority?: number; limit?: number; windowDays?: number; unique?: boolean }>;
  caps?: IdentityRulesOptions['caps'];
}

/** IDENTITY_RULES and IDENTITY_BLOCKED_VALUES -> the rules; a bad value fails start-up naming the variable. */
export function identityRulesFromConfig(rulesJson: string | undefined, blockedValues: string | undefined): IdentityRules {
  let config: RulesConfig = {};
  if (rulesJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rulesJson);
    } catch (error) {
      throw new Error(`IDENTITY_RULES is not JSON: ${(error as Error).message}`);
    }
    const checked = new SchemaValidator([RULES_SCHEMA]).validate<RulesConfig>(RULES_SCHEMA.$id, parsed);
    if (!checked.valid) throw new Error(`IDENTITY_RULES is invalid: ${describeIssues(checked.issues)}`);
    config = checked.value;
  }
  return new IdentityRules({
    rules: config.rules?.map(({ windowDays, ...rule }) => ({ ...rule, ...(windowDays === undefined ? {} : { windowMs: windowDays * DAY }) })),
    caps: config.caps,
    blockedValues: (blockedValues ?? '').split(',').map((value) => value.trim()).filter((value) => value !== ''),
  });
}
