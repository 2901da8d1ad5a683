export * from './render-failure';
export * from './render-limits';
export * from './template-data';
export * from './message-helpers';
export * from './render-message';
