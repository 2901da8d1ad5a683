/** The guard rails every send passes (GuardRailPolicy), from the service configuration. */
export const TRIGGERS_POLICY = Symbol('TRIGGERS_POLICY');

/** The kairos-source-id header of the identify events updateProfile steps put on the raw topic (null: none). */
export const TRIGGERS_EVENTS_SOURCE = Symbol('TRIGGERS_EVENTS_SOURCE');
