/** The guard rails every send passes (GuardRailPolicy), from the service configuration. */
export const TRIGGERS_POLICY = Symbol('TRIGGERS_POLICY');
/** Whether this instance tests A/B splits with a winner rule (TRIGGERS_DECIDE_SPLITS; off in a replay). */
export const DECIDE_SPLITS = Symbol('DECIDE_SPLITS');
