import { defineConfig } from 'tsup';

export default defineConfig({
  // Two entries sharing chunks (splitting), so module state (the registry, the backend) exists once.
  entry: ['src/index.ts', 'src/node.ts'],
  splitting: true,
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: [/^@tensorflow\//],
  shims: true,
});
