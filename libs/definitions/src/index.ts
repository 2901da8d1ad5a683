export * from './definition';
export * from './definition-error';
export * from './duration';
export * from './content-hash';
export * from './validate-definitions';
export * from './template-variables';
export * from './definition-set';
export * from './release-plan';
export { DEFINITION_SCHEMAS, DOMAIN_PATTERN, MAILBOX_PATTERN } from './schemas/definition-schemas';
