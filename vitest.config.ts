import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real processes and listen on loopback ports; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
