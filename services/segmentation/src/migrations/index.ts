import { CreateStateStore1795600000000, IndexStateEntriesByPartition1796000000000 } from '@kairos/state-store';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const segmentationMigrations = [CreateStateStore1795600000000, IndexStateEntriesByPartition1796000000000];
