import 'reflect-metadata';
import { AcceptedEvent, ErasureRequest, EVENT_SCHEMAS, SchemaIds, SchemaValidator, Topics } from '@kairos/contracts';
import { jsonDecoder } from '@kairos/kafka';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadIdentityConfig } from './identity.config';
import { IdentityModule } from './identity.module';
import { IDENTITY_SETTINGS, IdentitySettings } from './identity.settings';
import { identityRulesFromConfig } from './identity-rules.config';
import { identityMigrations } from './migrations';

export function startIdentity(env: NodeJS.ProcessEnv = process.env) {
  const config = loadIdentityConfig(env);
  const settings: IdentitySettings = {
    rules: identityRulesFromConfig(config.IDENTITY_RULES, config.IDENTITY_BLOCKED_VALUES),
    cacheProfiles: config.IDENTITY_CACHE_PROFILES,
    erasureRetryMs: config.IDENTITY_ERASURE_RETRY_SECONDS * 1000,
  };
  const validator = new SchemaValidator(EVENT_SCHEMAS);
  return runService({
    ...commonServiceOptions('identity', config),
    module: IdentityModule,
    subscriptions: [
      // The intake validated these; decoding without a schema check saves the hot path a second validation.
      { topic: Topics.accepted.name, decoder: jsonDecoder<AcceptedEvent>() },
      { topic: Topics.erasureRequests.name, decoder: jsonDecoder<ErasureRequest>(validator, SchemaIds.erasureRequest) },
    ],
    http: { port: config.IDENTITY_API_PORT },
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'identity', migrations: identityMigrations },
    providers: [{ provide: IDENTITY_SETTINGS, useValue: settings }],
  });
}

if (require.main === module) runAsMain(() => startIdentity());
