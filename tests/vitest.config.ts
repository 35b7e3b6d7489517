// Cross-package and end-to-end tests (the CLI on the procedural dataset), run against the sources.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../packages/${p}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@maskedssl\/core$/, replacement: src('core') },
      { find: /^@maskedssl\/core\/node$/, replacement: fileURLToPath(new URL('../packages/core/src/node.ts', import.meta.url)) },
      { find: /^@maskedssl\/moca$/, replacement: src('moca') },
      { find: /^@maskedssl\/baselines$/, replacement: src('baselines') },
    ],
  },
  test: {
    name: 'e2e',
    include: ['**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
