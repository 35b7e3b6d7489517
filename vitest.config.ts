// The whole test suite: every package's vitest project (and tests/ once it exists), in one run.
import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The CLI's tests are the end-to-end ones in tests/ (packages/cli has none of its own).
    projects: ['packages/core', 'packages/moca', 'packages/baselines', ...(existsSync('tests/vitest.config.ts') ? ['tests'] : [])],
  },
});
