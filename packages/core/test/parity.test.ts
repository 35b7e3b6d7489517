// The same ViT forward and gradient on wasm and on native TensorFlow agree to 1e-4 relative.
// Runs whenever the native backend is built (npm run setup:native); otherwise reported as skipped.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { availableBackends } from '../src/backend/init-backend.js';
import { parseVitConfig } from '../src/vit/config.js';
import { createVit, vitForward, vitFeatures } from '../src/vit/vit.js';
import { Rng } from '../src/util/rng.js';
import { maxRelDiff } from './helpers.js';

const available = await availableBackends();
const native = available.includes('tensorflow');

async function run(backend: string) {
  await tf.setBackend(backend);
  const c = parseVitConfig({ imageSize: 16, patchSize: 4, inChannels: 1, embedDim: 32, depth: 2, numHeads: 2 });
  const vit = createVit(c, new Rng(11));
  const x = tf.tensor4d(new Rng(12).uniformArray(4 * 16 * 16), [4, 16, 16, 1]);
  const probe = tf.tensor2d(new Rng(13).uniformArray(4 * 32, -1, 1), [4, 32]);
  const names = Object.keys(vit.params).filter((n) => vit.params[n]!.trainable);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(vitFeatures(c, vitForward(c, vit.params, x).tokens), probe)),
    names.map((n) => vit.params[n]!),
  );
  const features = vitFeatures(c, vitForward(c, vit.params, x).tokens).dataSync().slice();
  const gradArrays = Object.fromEntries(names.map((n) => [n, grads[vit.params[n]!.name]!.dataSync().slice()]));
  const loss = value.dataSync()[0]!;
  tf.disposeVariables();
  return { features, gradArrays, loss };
}

describe('backend parity', () => {
  it.skipIf(!native)(
    native ? 'wasm and tensorflow agree on a ViT forward and its gradient to 1e-4' : 'skipped: native TensorFlow backend not built (npm run setup:native)',
    async () => {
      const a = await run('wasm');
      const b = await run('tensorflow');
      expect(maxRelDiff(a.features, b.features)).toBeLessThan(1e-4);
      expect(Math.abs(a.loss - b.loss) / Math.abs(b.loss)).toBeLessThan(1e-4);
      for (const [name, g] of Object.entries(b.gradArrays)) {
        expect(maxRelDiff(a.gradArrays[name]!, g), name).toBeLessThan(1e-4);
      }
    },
  );
});
