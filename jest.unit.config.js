/** Pure logic, no I/O: runs without the stack. */
/** @type {import('jest').Config} */
module.exports = { ...require('./jest.shared'), displayName: 'unit', testMatch: ['<rootDir>/{libs,services,deploy,tools}/**/*.spec.ts'] };
