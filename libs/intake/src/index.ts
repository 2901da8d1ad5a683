export * from './intake-limits';
export * from './intake-result';
export * from './json-depth';
export * from './inspect-event';
export * from './accept-event';
export * from './raw-record';
