// The playground is built from the packages' sources (the `maskedssl-source` export condition), so it
// needs no package build first. Training runs in a module Web Worker.
import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  base: './',
  resolve: { conditions: ['maskedssl-source', ...defaultClientConditions] },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 8000 },
  server: { port: 5173 },
  preview: { port: 4173 },
});
