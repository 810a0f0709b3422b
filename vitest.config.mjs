import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native loading is process-global state (namespaces, static TLS): one file per fork keeps one
    // test file's namespaces from eating another's budget.
    pool: 'forks',
    // Children and workers run dist/: compile lib/ first when dist/ is older (CONTRIBUTING.md).
    globalSetup: ['test/setup/compiled_dist.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
