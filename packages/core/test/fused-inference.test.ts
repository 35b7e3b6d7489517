// The inference forward (`vitForward(..., { inference: true })`, what vitFeatureFn runs) with the fused
// native ops (oneDNN MatMul + BiasAdd [+ exact GELU], one-op LayerNorm) equals the ordinary
// forward to 1e-5 relative on native TensorFlow with the patched binding (otherwise those tests skip,
// saying why); the fallbacks (ops off, outside the inference scope, under a gradient tape) are the
// ordinary ops; repeated inference leaks no tensors.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { fusedInference, fusedLayerNorm, fusedMatMul, inferenceScope, setFusedOps } from '../src/nn/native-ops.js';
import { layerNorm } from '../src/nn/layer-norm.js';
import { Rng } from '../src/util/rng.js';
import { parseVitConfig } from '../src/vit/config.js';
import { createVit, vitFeatures, vitForward } from '../src/vit/vit.js';
import { maxRelDiff, useBackend } from './helpers.js';

const info = await useBackend();
const fused = inferenceScope(() => fusedInference());
const skipReason =
  info.name !== 'tensorflow'
    ? ` (skipped: backend is ${info.name}, not native TensorFlow; npm run setup:native)`
    : !fused
      ? ' (skipped: the tfjs-node binding lacks list(string) attributes or oneDNN fused ops; npm run setup:native patches it)'
      : '';

const config = parseVitConfig({ imageSize: 16, patchSize: 4, inChannels: 3, embedDim: 32, depth: 2, numHeads: 2 });
const vit = createVit(config, new Rng(21), 'fused-test');
// Non-trivial norm scales and shifts and biases (createVit starts them at 1 and 0).
tf.tidy(() => {
  const rng = new Rng(22);
  for (const [name, v] of Object.entries(vit.params)) {
    if (v.trainable && v.rank === 1) v.assign(tf.tensor1d(rng.uniformArray(v.size, -0.5, 0.5)).add(name.includes('norm') && name.endsWith('weight') ? 1 : 0));
  }
});
const images = tf.tensor4d(new Rng(23).uniformArray(5 * 16 * 16 * 3), [5, 16, 16, 3]);

function forward(inference: boolean, collect: number[] = []): { tokens: Float32Array; intermediates: Float32Array[] } {
  return tf.tidy(() => {
    const out = vitForward(config, vit.params, images, { inference, collect });
    return { tokens: out.tokens.dataSync() as Float32Array, intermediates: out.intermediates.map((t) => t.dataSync() as Float32Array) };
  });
}

afterEach(() => setFusedOps(true));

describe('fused inference ops', () => {
  it.skipIf(skipReason !== '')(`the inference forward equals the ordinary forward to 1e-5 relative${skipReason}`, () => {
    const plain = forward(false, [0, 1]);
    const fast = forward(true, [0, 1]);
    expect(maxRelDiff(fast.tokens, plain.tokens)).toBeLessThan(1e-5);
    for (let i = 0; i < 2; i++) expect(maxRelDiff(fast.intermediates[i]!, plain.intermediates[i]!), `block ${i}`).toBeLessThan(1e-5);
    // Not bitwise the same: the fused kernels did run.
    expect(Array.from(fast.tokens)).not.toEqual(Array.from(plain.tokens));
  });

  it.skipIf(skipReason !== '')(`each fused op equals its composite to 1e-5 relative${skipReason}`, () => {
    tf.tidy(() => {
      const rng = new Rng(24);
      const a = tf.tensor2d(rng.uniformArray(40 * 24, -2, 2), [40, 24]);
      const w = tf.tensor2d(rng.uniformArray(24 * 12, -0.5, 0.5), [24, 12]);
      const b = tf.tensor1d(rng.uniformArray(12, -1, 1));
      for (const activation of [undefined, 'gelu' as const]) {
        const want = fusedMatMul(a, w, b, activation).dataSync(); // outside the scope: the composite
        const got = inferenceScope(() => fusedMatMul(a, w, b, activation)).dataSync();
        expect(maxRelDiff(got, want), activation ?? 'bias only').toBeLessThan(1e-5);
      }
      const x = tf.tensor3d(rng.uniformArray(3 * 5 * 12, -3, 3), [3, 5, 12]);
      const g = tf.tensor1d(rng.uniformArray(12, 0.5, 1.5));
      expect(maxRelDiff(inferenceScope(() => fusedLayerNorm(x, g, b, 1e-6)).dataSync(), layerNorm(x, g, b, 1e-6).dataSync())).toBeLessThan(1e-5);
    });
  });

  it('with the fused ops off, the inference forward is the ordinary forward, bit for bit', () => {
    setFusedOps(false);
    expect(inferenceScope(() => fusedInference())).toBe(false);
    const plain = forward(false, [1]);
    const off = forward(true, [1]);
    expect(Array.from(off.tokens)).toEqual(Array.from(plain.tokens));
    expect(Array.from(off.intermediates[0]!)).toEqual(Array.from(plain.intermediates[0]!));
  });

  it('outside the inference scope the fallbacks are matmul + bias [+ exact GELU] and layerNorm', () => {
    expect(fusedInference()).toBe(false);
    tf.tidy(() => {
      const a = tf.tensor2d([[1, 2], [-3, 0.5]]);
      const w = tf.tensor2d([[0.5, -1], [0.25, 2]]);
      const b = tf.tensor1d([0.5, -0.25]);
      const z = [1.5, 2.75, -0.875, 3.75]; // a w + b, row-major
      const phi = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
      expect(maxRelDiff(fusedMatMul(a, w, b).dataSync(), z)).toBeLessThan(1e-6);
      expect(maxRelDiff(fusedMatMul(a, w, b, 'gelu').dataSync(), z.map((v) => v * phi(v)))).toBeLessThan(1e-6);
      const x = tf.tensor2d([[1, 2, 3]]);
      const g = tf.tensor1d([2, 2, 2]);
      const shift = tf.tensor1d([1, 0, -1]);
      expect(Array.from(fusedLayerNorm(x, g, shift, 1e-6).dataSync())).toEqual(Array.from(layerNorm(x, g, shift, 1e-6).dataSync()));
    });
  });

  it('under a gradient tape the inference flag changes nothing: same value and gradients as the ordinary forward', () => {
    const names = Object.keys(vit.params).filter((n) => vit.params[n]!.trainable);
    const weights = tf.tensor2d(new Rng(25).uniformArray(5 * 32, -1, 1), [5, 32]);
    const run = (inference: boolean) => {
      let sawFused = true;
      const { value, grads } = tf.variableGrads(() => {
        sawFused = inferenceScope(() => fusedInference());
        return tf.sum(tf.mul(vitFeatures(config, vitForward(config, vit.params, images, { inference }).tokens), weights));
      }, names.map((n) => vit.params[n]!));
      const out = { value: value.dataSync()[0]!, grads: names.map((n) => Array.from(grads[vit.params[n]!.name]!.dataSync())), sawFused };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const plain = run(false);
    const flagged = run(true);
    expect(flagged.sawFused).toBe(false);
    expect(flagged.value).toBe(plain.value);
    expect(flagged.grads).toEqual(plain.grads);
    weights.dispose();
  });

  it('repeated inference calls leave the number of tensors unchanged', async () => {
    const once = async () => {
      const f = tf.tidy(() => vitFeatures(config, vitForward(config, vit.params, images, { inference: true }).tokens));
      await f.data();
      f.dispose();
    };
    await once(); // warm-up (and the one-time probe of the fused ops)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await once();
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** erf by its Maclaurin series, accurate in double precision for the |x| < 3 this test uses. */
function erf(x: number): number {
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
