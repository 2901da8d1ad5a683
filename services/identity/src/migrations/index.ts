import { CreateIdentityGraph1795500000000 } from './1795500000000-create-identity-graph';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const identityMigrations = [CreateIdentityGraph1795500000000];
