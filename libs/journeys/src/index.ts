export * from './local-time';
export * from './compiled-journey';
export * from './guard-rails';
export * from './journey-catalogue';
export * from './journeys-state';
export * from './step-journeys';
export * from './simulate';
export * from './merge-gate';
