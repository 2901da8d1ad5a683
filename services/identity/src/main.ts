import 'reflect-metadata';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadIdentityConfig } from './identity.config';
import { IdentityModule } from './identity.module';
import { identityMigrations } from './migrations';

export function startIdentity(env: NodeJS.ProcessEnv = process.env) {
  const config = loadIdentityConfig(env);
  return runService({
    ...commonServiceOptions('identity', config),
    module: IdentityModule,
    database: { url: config.DATABASE_URL, schema: 'identity', migrations: identityMigrations },
  });
}

if (require.main === module) runAsMain(() => startIdentity());
