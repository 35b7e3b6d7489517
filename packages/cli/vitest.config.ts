import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`../${p}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: { '@maskedssl/core': src('core'), '@maskedssl/moca': src('moca'), '@maskedssl/baselines': src('baselines') },
  },
  test: {
    name: 'cli',
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
