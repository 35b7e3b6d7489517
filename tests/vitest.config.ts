// Cross-package and end-to-end tests (the CLI on the procedural dataset), run against the sources.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../packages/${p}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: { '@maskedssl/core': src('core'), '@maskedssl/moca': src('moca'), '@maskedssl/baselines': src('baselines') },
  },
  test: {
    name: 'e2e',
    include: ['**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
