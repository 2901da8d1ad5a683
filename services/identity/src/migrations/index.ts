import { CreateIdentityGraph1795500000000 } from './1795500000000-create-identity-graph';
import { OrderProfilesByReceipt1795600000000 } from './1795600000000-order-profiles-by-receipt';
import { CommitBeforePublish1795700000000 } from './1795700000000-commit-before-publish';
import { SuppressErasedProfileIds1795800000000 } from './1795800000000-suppress-erased-profile-ids';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const identityMigrations = [CreateIdentityGraph1795500000000, OrderProfilesByReceipt1795600000000, CommitBeforePublish1795700000000, SuppressErasedProfileIds1795800000000];
