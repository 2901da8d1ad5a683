import { CreateSeenMessages1795380000000 } from './1795380000000-create-seen-messages';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const ingestionMigrations = [CreateSeenMessages1795380000000];
