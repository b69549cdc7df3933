import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the Docker suites' images when an engine answers (issue 15: `npm ci && npm test` passes on its own).
    globalSetup: ['test/setup/docker-images.ts'],
    // Integration and load tests measure timing on a 2-core machine: one file at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
