import { CreateDeliveries1795800000000 } from './1795800000000-create-deliveries';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const dispatchMigrations = [CreateDeliveries1795800000000];
