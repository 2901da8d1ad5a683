export * from './identifiers';
export * from './identity-rules';
export * from './identity-graph';
export * from './profile-id';
