/** The guard rails every send passes (GuardRailPolicy), from the service configuration. */
export const TRIGGERS_POLICY = Symbol('TRIGGERS_POLICY');
