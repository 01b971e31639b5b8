/**
 * `npm run bench`: the benchmark suite (not part of `npm test`). One Temporal dev server and one workflow
 * bundle for the whole run (the test suite's global setup), benchmarks run one after another so their
 * timings do not disturb each other, and the last step writes bench/results.md from bench/results.json.
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/bench'],
  testMatch: ['**/*.bench.ts'],
  // The same TypeScript transform as the tests.
  transform: require('../jest.config.js').transform,
  globalSetup: '<rootDir>/bench/global-setup.ts',
  globalTeardown: '<rootDir>/bench/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/cleanup.ts'],
  // Figures in a fixed order (overhead first, git at size last), so the table reads like the issue.
  testSequencer: '<rootDir>/bench/sequencer.js',
  testTimeout: 300_000,
  maxWorkers: 1,
};
