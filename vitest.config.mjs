import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native loading is process-global state (namespaces, static TLS): one file per fork keeps one
    // test file's namespaces from eating another's budget.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
