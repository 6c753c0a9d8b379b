import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The suites mostly wait on sockets and timers (the app, the simulators, Redis), not on the CPU:
    // three files at a time on CI's two cores finish in about 3.5 minutes instead of 9 one by one.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
