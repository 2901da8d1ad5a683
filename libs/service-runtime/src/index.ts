export * from './health-server';
export * from './run-service';
export * from './runtime.tokens';
export * from './common-service-options';
export * from './service-logger';
