// noGrad (torch.no_grad for tfjs): what it computes is a constant to an enclosing gradient, the tape
// records again after it, a tf.grad inside it leaves the enclosing tape intact, it lets the fused
// inference ops run under a tape, and it leaks no tensors.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fusedInference, inferenceScope } from '../src/nn/native-ops.js';
import { noGrad } from '../src/nn/no-grad.js';
import { Rng } from '../src/util/rng.js';
import { parseVitConfig } from '../src/vit/config.js';
import { createVit, vitForward } from '../src/vit/vit.js';
import { maxRelDiff, useBackend } from './helpers.js';

const info = await useBackend();
const fusedAvailable = inferenceScope(() => fusedInference());

/** d/dv and d/dw of sum(noGrad(3 v) * w) + sum(v * v), by variableGrads. */
function grads(v: tf.Variable, w: tf.Variable): { value: number; dv: number[]; dw: number[] } {
  const { value, grads } = tf.variableGrads(() => tf.add(tf.sum(tf.mul(noGrad(() => tf.mul(v, 3)), w)), tf.sum(tf.mul(v, v))) as tf.Scalar, [v, w]);
  const out = { value: value.dataSync()[0]!, dv: Array.from(grads[v.name]!.dataSync()), dw: Array.from(grads[w.name]!.dataSync()) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('noGrad', () => {
  const v = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'nograd-v');
  const w = tf.variable(tf.tensor1d([4, 1, -1]), true, 'nograd-w');

  it('gives a constant: no gradient flows through what it computed, the rest of the graph is differentiated', () => {
    const g = grads(v, w);
    // value = sum(3 v w) + sum(v^2) = (12 - 6 - 1.5) + (1 + 4 + 0.25)
    expect(g.value).toBeCloseTo(4.5 + 5.25, 5);
    expect(g.dv).toEqual([2, -4, 1]); // only the v * v path: 2 v (the 3 w path is cut)
    expect(g.dw).toEqual([3, -6, 1.5]); // 3 v, taken as a constant
    // A variable read only inside noGrad is not connected to the loss at all (no entry, not a zero).
    const only = tf.variableGrads(() => tf.sum(tf.mul(noGrad(() => tf.mul(v, 2)), w)) as tf.Scalar, [v, w]);
    expect(only.grads[v.name]).toBeUndefined();
    expect(Array.from(only.grads[w.name]!.dataSync())).toEqual([2, -4, 1]);
    tf.dispose([only.value, ...Object.values(only.grads)]);
    expect(() => tf.variableGrads(() => tf.sum(noGrad(() => tf.mul(v, 2))) as tf.Scalar, [v])).toThrow(/Cannot find a connection/);
  });

  it('outside any gradient it is the plain call', () => {
    expect(tf.engine().state.gradientDepth).toBe(0);
    const y = noGrad(() => tf.mul(v, 2));
    expect(Array.from(y.dataSync())).toEqual([2, -4, 1]);
    y.dispose();
  });

  it('a tf.grad inside it works and leaves the enclosing tape intact', () => {
    let inner = 0;
    const { value, grads: gs } = tf.variableGrads(() => {
      const a = tf.mul(v, v);
      inner = noGrad(() => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.mul(x, x))(tf.scalar(3)).dataSync()[0]!));
      return tf.sum(tf.mul(a, w)) as tf.Scalar;
    }, [v]);
    expect(inner).toBe(6);
    expect(Array.from(gs[v.name]!.dataSync())).toEqual([8, -4, -1]); // 2 v w, through the op recorded before the inner grad
    expect(tf.engine().state.gradientDepth).toBe(0);
    tf.dispose([value, ...Object.values(gs)]);
  });

  it('refuses an async function, and restores the tape when f throws', () => {
    const { value, grads: gs } = tf.variableGrads(() => {
      expect(() => noGrad(async () => 1)).toThrow(/must be synchronous/);
      expect(() => noGrad(() => { throw new Error('inside'); })).toThrow(/inside/);
      expect(tf.engine().state.gradientDepth).toBe(1);
      return tf.sum(tf.mul(v, w)) as tf.Scalar;
    }, [v]);
    expect(Array.from(gs[v.name]!.dataSync())).toEqual([4, 1, -1]);
    tf.dispose([value, ...Object.values(gs)]);
  });

  it('leaves the number of tensors unchanged across repeated gradients', () => {
    grads(v, w);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) grads(v, w);
    expect(tf.memory().numTensors).toBe(before);
  });

  const skip = info.name !== 'tensorflow' ? ` (skipped: backend is ${info.name}, not native TensorFlow)` : !fusedAvailable ? ' (skipped: the binding lacks the fused ops; npm run setup:native)' : '';
  it.skipIf(skip !== '')(`under a tape, a teacher forward inside it runs the fused inference ops and equals the ordinary forward${skip}`, () => {
    const config = parseVitConfig({ imageSize: 8, patchSize: 4, inChannels: 1, embedDim: 16, depth: 1, numHeads: 2 });
    const vit = createVit(config, new Rng(3), 'nograd-vit');
    const images = tf.tensor4d(new Rng(4).uniformArray(2 * 8 * 8), [2, 8, 8, 1]);
    const plain = tf.tidy(() => vitForward(config, vit.params, images).tokens.dataSync());
    let sawFused = false;
    let teacher: Float32Array | Int32Array | Uint8Array = new Float32Array();
    const { value, grads: gs } = tf.variableGrads(() => {
      const t = noGrad(() => {
        sawFused = inferenceScope(() => fusedInference());
        return vitForward(config, vit.params, images, { inference: true }).tokens;
      });
      teacher = t.dataSync();
      return tf.sum(tf.mul(t, v.sum())) as tf.Scalar;
    }, [v]);
    expect(sawFused).toBe(true);
    expect(maxRelDiff(teacher, plain)).toBeLessThan(1e-5);
    // d/dv of sum(t) * sum(v) = sum(t), with t a constant.
    const sumT = Array.from(teacher).reduce((s, x) => s + x, 0);
    for (const d of gs[v.name]!.dataSync()) expect(d).toBeCloseTo(sumT, 3);
    tf.dispose([value, ...Object.values(gs), images, ...Object.values(vit.params)]);
  });
});
