import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests run against the sources of @maskedssl/core, no build needed.
    alias: [
      { find: /^@maskedssl\/core$/, replacement: fileURLToPath(new URL('../core/src/index.ts', import.meta.url)) },
      { find: /^@maskedssl\/core\/node$/, replacement: fileURLToPath(new URL('../core/src/node.ts', import.meta.url)) },
    ],
  },
  test: {
    name: 'baselines',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
