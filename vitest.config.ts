// The whole test suite: every package's vitest project (and tests/ once it exists), in one run.
import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', ...(existsSync('tests/vitest.config.ts') ? ['tests'] : [])],
  },
});
