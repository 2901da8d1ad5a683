/** Against the real Kafka, PostgreSQL and SMTP sink that the harness starts once for the whole run. */
/** @type {import('jest').Config} */
module.exports = {
  ...require('./jest.shared'),
  displayName: 'integration',
  testMatch: ['<rootDir>/{libs,services,deploy}/**/*.int-spec.ts'],
  globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/global-teardown.ts',
  testTimeout: 120_000,
};
