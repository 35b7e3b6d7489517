import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selfAttention } from '../src/nn/attention.js';
import { blockParamShapes, mlp, transformerBlock } from '../src/nn/block.js';
import { erfcGate, gelu } from '../src/nn/gelu.js';
import { layerNorm } from '../src/nn/layer-norm.js';
import { linear } from '../src/nn/linear.js';
import { repeatToken } from '../src/nn/repeat-token.js';
import type { ParamTree } from '../src/nn/params.js';
import { Rng } from '../src/util/rng.js';
import { gradcheck } from './gradcheck.js';
import { useBackend } from './helpers.js';
import * as ref from './reference-vit.js';

beforeAll(async () => {
  await useBackend();
});

function randomTensor(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), 0, std), shape);
}

/** A scalar that depends on every output element with its own weight, so gradients are non-trivial. */
function weightedSum(y: tf.Tensor, seed: number): tf.Scalar {
  const r = new Rng(seed);
  return tf.sum(tf.mul(y, tf.tensor(r.uniformArray(y.size, -1, 1), y.shape)));
}

function randomBlockParams(rng: Rng, d: number, hidden: number): ParamTree {
  const p: ParamTree = {};
  for (const [name, shape] of Object.entries(blockParamShapes('b', d, hidden))) {
    const isScale = name.endsWith('norm1.weight') || name.endsWith('norm2.weight');
    p[name] = isScale ? tf.add(randomTensor(rng, shape, 0.1), 1) : randomTensor(rng, shape, 0.3);
  }
  return p;
}

describe('hand-computed values', () => {
  it('GELU is the exact erf form', () => {
    const y = gelu(tf.tensor([-3, -1, 0, 0.5, 1, 2])).dataSync();
    const expected = [-0.0040497, -0.1586553, 0, 0.3457312, 0.8413447, 1.9544997];
    expected.forEach((e, i) => expect(y[i]).toBeCloseTo(e, 6));
  });

  it('LayerNorm of [1,2,3,4] with scale 2 and shift 1', () => {
    const y = layerNorm(tf.tensor([[1, 2, 3, 4]]), tf.fill([4], 2), tf.ones([4]), 1e-6).dataSync();
    // mean 2.5, variance 1.25: (x - 2.5) / sqrt(1.25 + 1e-6) * 2 + 1
    const s = Math.sqrt(1.25 + 1e-6);
    [1, 2, 3, 4].forEach((x, i) => expect(y[i]).toBeCloseTo(((x - 2.5) / s) * 2 + 1, 5));
  });

  it('linear folds leading axes', () => {
    const x = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]);
    const w = tf.tensor([[1, 0], [0, 1], [1, 1]]);
    const y = linear(x, w, tf.tensor([10, 20]));
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.dataSync())).toEqual([14, 25, 20, 31, 26, 37, 32, 43]);
    expect(() => linear(tf.ones([2, 4]), w)).toThrow(/last dim 4 does not match weight \[3,2\]/);
  });

  it('repeatToken copies a token to [B, N, D]; its gradient is the sum over the copies', () => {
    const token = tf.tensor([1, -2], [1, 1, 2]);
    const y = repeatToken(token, 2, 3);
    expect(y.shape).toEqual([2, 3, 2]);
    expect(Array.from(y.dataSync())).toEqual([1, -2, 1, -2, 1, -2, 1, -2, 1, -2, 1, -2]);
    expect(repeatToken(tf.tensor([1, -2]), 1, 2).shape).toEqual([1, 2, 2]);
    // d/dtoken of sum(weights * repeat(token)): per channel the sum of that channel's 6 weights.
    const weights = tf.tensor(Array.from({ length: 12 }, (_, i) => i + 1), [2, 3, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(repeatToken(t, 2, 3), weights)))(token);
    expect(g.shape).toEqual([1, 1, 2]);
    expect(Array.from(g.dataSync())).toEqual([1 + 3 + 5 + 7 + 9 + 11, 2 + 4 + 6 + 8 + 10 + 12]);
    expect(() => repeatToken(tf.ones([2, 1, 2]), 1, 1)).toThrow(/token must be \[D\] or \[1, 1, D\], got shape \[2,1,2\]/);
  });
});

describe('against the plain-JS reference', () => {
  it('a transformer block forward matches to 1e-5', () => {
    const rng = new Rng(3);
    const [n, d, hidden, heads] = [5, 8, 16, 2];
    const p = randomBlockParams(rng, d, hidden);
    const x = randomTensor(rng, [2, n, d]);
    const y = transformerBlock(x as tf.Tensor3D, p, 'b', heads).dataSync();
    const v = (name: string) => Array.from(p[`b.${name}`]!.dataSync());
    const m = (name: string) => ref.toMat(p[`b.${name}`]!.dataSync(), p[`b.${name}`]!.shape[0]!, p[`b.${name}`]!.shape[1]!);
    const w: ref.BlockWeights = {
      n1g: v('norm1.weight'), n1b: v('norm1.bias'), qkvW: m('attn.qkv.weight'), qkvB: v('attn.qkv.bias'),
      projW: m('attn.proj.weight'), projB: v('attn.proj.bias'), n2g: v('norm2.weight'), n2b: v('norm2.bias'),
      fc1W: m('mlp.fc1.weight'), fc1B: v('mlp.fc1.bias'), fc2W: m('mlp.fc2.weight'), fc2B: v('mlp.fc2.bias'),
    };
    const xs = x.dataSync();
    for (let b = 0; b < 2; b++) {
      const expected = ref.block(ref.toMat(xs.slice(b * n * d), n, d), w, heads).flat();
      const got = Array.from(y.slice(b * n * d, (b + 1) * n * d));
      const err = Math.max(...got.map((g, i) => Math.abs(g - expected[i]!)));
      expect(err).toBeLessThan(1e-5);
    }
  });
});

describe('gradients against finite differences', () => {
  const tol = 2e-2;

  it('GELU', () => {
    const x = randomTensor(new Rng(1), [12], 1.5);
    const r = gradcheck((t) => weightedSum(gelu(t), 7), [x]);
    expect(r.worstRel).toBeLessThan(tol);
  });

  it('linear with and without bias (input, weight, bias; custom gradient)', () => {
    const rng = new Rng(15);
    const x = randomTensor(rng, [2, 3, 4]);
    const w = randomTensor(rng, [4, 5], 0.5);
    const b = randomTensor(rng, [5], 0.5);
    const r = gradcheck((t, ww, bb) => weightedSum(linear(t, ww, bb), 16), [x, w, b]);
    expect(r.checked).toBe(24 + 20 + 5);
    expect(r.worstRel).toBeLessThan(tol);
    const r2 = gradcheck((t, ww) => weightedSum(linear(t, ww), 17), [x, w]);
    expect(r2.worstRel).toBeLessThan(tol);
  });

  it('the erfc gate a * erfc(a) behind GELU (custom gradient)', () => {
    const a = tf.tensor(new Rng(11).uniformArray(16, -3, 3));
    const r = gradcheck((t) => weightedSum(erfcGate(t), 12), [a]);
    expect(r.checked).toBe(16);
    expect(r.worstRel).toBeLessThan(tol);
  });

  it('an MLP (input, fc1 weight and bias, fc2 weight)', () => {
    const rng = new Rng(13);
    const p = randomBlockParams(rng, 4, 6);
    const x = randomTensor(rng, [1, 3, 4]);
    const r = gradcheck(
      (t, w1, b1, w2) => weightedSum(mlp(t, { ...p, 'b.mlp.fc1.weight': w1, 'b.mlp.fc1.bias': b1, 'b.mlp.fc2.weight': w2 }, 'b.mlp'), 14),
      [x, p['b.mlp.fc1.weight']!, p['b.mlp.fc1.bias']!, p['b.mlp.fc2.weight']!],
    );
    expect(r.checked).toBe(12 + 24 + 6 + 24);
    expect(r.worstRel).toBeLessThan(tol);
  });

  it('LayerNorm (input, scale, shift)', () => {
    const rng = new Rng(2);
    const x = randomTensor(rng, [3, 6]);
    const g = tf.add(randomTensor(rng, [6], 0.2), 1);
    const b = randomTensor(rng, [6], 0.2);
    const r = gradcheck((t, gg, bb) => weightedSum(layerNorm(t, gg, bb), 8), [x, g, b]);
    expect(r.checked).toBe(30);
    expect(r.worstRel).toBeLessThan(tol);
  });

  it('self-attention (input, qkv weight and bias; custom gradient)', () => {
    const rng = new Rng(4);
    const d = 8;
    const p: ParamTree = {
      'a.qkv.weight': randomTensor(rng, [d, 3 * d], 0.4),
      'a.qkv.bias': randomTensor(rng, [3 * d], 0.1),
      'a.proj.weight': randomTensor(rng, [d, d], 0.4),
      'a.proj.bias': randomTensor(rng, [d], 0.1),
    };
    const x = randomTensor(rng, [1, 4, d]);
    const r = gradcheck(
      (t, w, b) => weightedSum(selfAttention(t as tf.Tensor3D, { ...p, 'a.qkv.weight': w, 'a.qkv.bias': b }, 'a', 2), 9),
      [x, p['a.qkv.weight']!, p['a.qkv.bias']!],
    );
    expect(r.checked).toBe(32 + 192 + 24);
    expect(r.worstRel).toBeLessThan(tol);
  });

  it('a whole block (input, norm1 scale, fc1 weight)', () => {
    const rng = new Rng(5);
    const p = randomBlockParams(rng, 8, 12);
    const x = randomTensor(rng, [1, 3, 8]);
    const r = gradcheck(
      (t, g, w) => weightedSum(transformerBlock(t as tf.Tensor3D, { ...p, 'b.norm1.weight': g, 'b.mlp.fc1.weight': w }, 'b', 2), 10),
      [x, p['b.norm1.weight']!, p['b.mlp.fc1.weight']!],
    );
    expect(r.checked).toBe(24 + 8 + 96);
    expect(r.worstRel).toBeLessThan(tol);
  });
});
