import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The suites mostly wait on sockets and timers (the app, the simulators, Redis, a scheduled
    // start), not on the CPU: six files at a time on CI's two cores use about 1.5 of them and finish
    // in under 6 minutes (three at a time: 7.5; one by one: over 20).
    maxWorkers: 6,
    reporters: ['default'],
  },
});
