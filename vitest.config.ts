import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The console's modules (tested here) import the server's source under this alias, as web/vite.config.ts does.
  resolve: { alias: { '@canary': fileURLToPath(new URL('./src', import.meta.url)) } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real processes and listen on loopback ports; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
