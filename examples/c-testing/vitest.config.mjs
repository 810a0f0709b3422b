import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The build: once per run, and before each rerun in watch mode.
    globalSetup: ['test/build.setup.ts'],
    // Watch mode reruns every test when a C source or header changes (the setup rebuilds first).
    forceRerunTriggers: [...configDefaults.forceRerunTriggers, '**/*.c', '**/*.h'],
  },
});
