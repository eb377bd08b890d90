import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more parallel files only adds contention (each embedded database is a WASM Postgres).
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
