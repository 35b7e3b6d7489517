// The prediction side: prototype generator shapes, unit norm and a hand computation (BatchNorm over
// the words), the KL losses on hand inputs, and the decoder's positions.
import * as tf from '@tensorflow/tfjs-core';
import { batchNorm, initBackend, klDivergence, Rng } from '@maskedssl/core/node';
import { describe, expect, it } from 'vitest';
import {
  createDecoder,
  createPrototypeGenerator,
  decoderForward,
  generatePrototypes,
  prototypeLogits,
  type DecoderConfig,
} from '../src/index.js';

await initBackend({ log: null });

const arr = (t: tf.Tensor) => Array.from(t.dataSync());
const rowNorms = (t: tf.Tensor2D) => tf.tidy(() => arr(tf.norm(t, 'euclidean', 1)));

describe('dynamic prototype generator', () => {
  it('image head (identity skip) gives [K, D], token head (linear skip) [K, Dd]; rows are unit vectors', () => {
    const rng = new Rng(0);
    const image = createPrototypeGenerator('image_head', { inDim: 8, hiddenDim: 16, outDim: 8, skip: 'identity' }, rng);
    const token = createPrototypeGenerator('token_head', { inDim: 8, hiddenDim: 16, outDim: 12, skip: 'linear' }, rng);
    expect(Object.keys(image).sort()).toEqual(['image_head.bn.bias', 'image_head.bn.weight', 'image_head.fc1.weight', 'image_head.fc2.bias', 'image_head.fc2.weight']);
    expect(token['token_head.skip.weight']!.shape).toEqual([8, 12]);
    tf.tidy(() => {
      const words = tf.randomUniform([20, 8], 0, 1, 'float32', 1) as tf.Tensor2D;
      const p = generatePrototypes('image_head', image, words);
      const q = generatePrototypes('token_head', token, words);
      expect(p.shape).toEqual([20, 8]);
      expect(q.shape).toEqual([20, 12]);
      for (const n of [...rowNorms(p), ...rowNorms(q)]) expect(n).toBeCloseTo(1, 5);
    });
    expect(() => createPrototypeGenerator('x', { inDim: 8, hiddenDim: 4, outDim: 6, skip: 'identity' }, rng)).toThrow(/identity skip needs inDim == outDim/);
    tf.dispose([...Object.values(image), ...Object.values(token)]);
  });

  it('matches a hand computation: l2norm(fc2(relu(BN(fc1 x))) + x), BN over the K words with batch statistics', () => {
    // K = 3 words in C = 2, H = 2, D = 2, identity skip; fc1 = identity, BN affine (2, 1) / (0, 0.5), fc2 = identity, bias (0.1, 0).
    const params = {
      'h.fc1.weight': tf.tensor2d([1, 0, 0, 1], [2, 2]),
      'h.bn.weight': tf.tensor1d([2, 1]),
      'h.bn.bias': tf.tensor1d([0, 0.5]),
      'h.fc2.weight': tf.tensor2d([1, 0, 0, 1], [2, 2]),
      'h.fc2.bias': tf.tensor1d([0.1, 0]),
    };
    const W = [
      [3, 4],
      [0, 2],
      [1, 1],
    ];
    const x = W.map((r) => r.map((v) => v / Math.hypot(...r)));
    const col = (j: number) => x.map((r) => r[j]!);
    const stats = [0, 1].map((j) => {
      const m = col(j).reduce((a, b) => a + b, 0) / 3;
      return { m, v: col(j).reduce((a, b) => a + (b - m) ** 2, 0) / 3 };
    });
    const gamma = [2, 1];
    const beta = [0, 0.5];
    const bias = [0.1, 0];
    const expected = x.flatMap((r) => {
      const y = r.map((v, j) => Math.max(0, ((v - stats[j]!.m) / Math.sqrt(stats[j]!.v + 1e-5)) * gamma[j]! + beta[j]!) + bias[j]! + v);
      const n = Math.hypot(...y);
      return y.map((v) => v / n);
    });
    tf.tidy(() => {
      const got = arr(generatePrototypes('h', params, tf.tensor2d(W)));
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
      // Logits = kappa * f . P (features not normalised).
      const logits = arr(prototypeLogits(tf.tensor2d([[2, 0]]), tf.tensor2d(W.map((r) => r.map((v) => v / Math.hypot(...r)))), 3));
      logits.forEach((v, i) => expect(v).toBeCloseTo(3 * 2 * x[i]![0]!, 5));
    });
    tf.dispose(Object.values(params));
  });

  it('batch norm uses the batch (the K words) statistics', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([1, 10, 2, 20, 3, 30, 6, 40], [4, 2]);
      const y = batchNorm(x, tf.tensor1d([1, 2]), tf.tensor1d([0, 3]));
      const { mean, variance } = tf.moments(y, 0);
      arr(mean).forEach((v, i) => expect(v).toBeCloseTo([0, 3][i]!, 5));
      arr(variance).forEach((v, i) => expect(v).toBeCloseTo([1, 4][i]!, 3));
    });
  });
});

describe('losses', () => {
  it('KL(target || softmax(logits)), mean over rows, 0 log 0 = 0', () => {
    tf.tidy(() => {
      const target = tf.tensor2d([0.5, 0.5, 0, 1, 0, 0], [2, 3]);
      const logits = tf.tensor2d([0, 0, 0, Math.LN2, 0, 0], [2, 3]);
      // Row 1: 0.5 ln(0.5 / (1/3)) * 2 = ln 1.5; row 2: ln(1 / 0.5) = ln 2.
      expect(klDivergence(target, logits).dataSync()[0]).toBeCloseTo((Math.log(1.5) + Math.LN2) / 2, 6);
      // Rows over any leading shape; identical distributions give 0.
      const t3 = tf.tensor3d([0.2, 0.8, 0.6, 0.4], [1, 2, 2]);
      expect(klDivergence(t3, tf.log(t3)).dataSync()[0]).toBeCloseTo(0, 6);
      // Weighted rows: 0.25 * ln 1.5 + 2 * ln 2; weights must have the rows' leading shape.
      expect(klDivergence(target, logits, tf.tensor1d([0.25, 2])).dataSync()[0]).toBeCloseTo(0.25 * Math.log(1.5) + 2 * Math.LN2, 6);
      expect(klDivergence(t3, tf.zeros([1, 2, 2]), tf.tensor2d([[1, 0]])).dataSync()[0]).toBeCloseTo(
        0.2 * Math.log(0.2 / 0.5) + 0.8 * Math.log(0.8 / 0.5),
        6,
      );
      expect(() => klDivergence(target, logits, tf.ones([3]))).toThrow(/weights \[3\]/);
      expect(() => klDivergence(target, tf.zeros([3, 2]))).toThrow(/differ/);
    });
  });

  it('the hand-written KL gradient matches autodiff of the composite formula and central differences', () => {
    tf.tidy(() => {
      const rng = new Rng(5);
      const rows = 4;
      const k = 5;
      const target = tf.softmax(tf.tensor2d(rng.normalArray(rows * k, 0, 2), [rows, k]));
      // One row that is not a distribution (sums to 0.5) and a zero entry: both handled as the formula says.
      const t = tf.concat([tf.slice(target, [0, 0], [3, k]), tf.tensor2d([[0.5, 0, 0, 0, 0]])], 0);
      const logits = tf.tensor2d(rng.normalArray(rows * k, 0, 3), [rows, k]);
      const composite = (l: tf.Tensor) => tf.div(tf.sum(tf.mul(t, tf.sub(tf.log(tf.maximum(t, 1e-30)), tf.logSoftmax(l, -1)))), rows) as tf.Scalar;
      expect(klDivergence(t, logits).dataSync()[0]).toBeCloseTo(composite(logits).dataSync()[0]!, 5);
      const ours = tf.grad((l: tf.Tensor) => klDivergence(t, l))(logits).dataSync();
      const reference = tf.grad(composite)(logits).dataSync();
      const base = logits.dataSync();
      const eps = 1e-2;
      for (let i = 0; i < base.length; i++) {
        expect(ours[i]).toBeCloseTo(reference[i]!, 5);
        const at = (d: number) => {
          const v = Float32Array.from(base);
          v[i] = v[i]! + d;
          return klDivergence(t, tf.tensor2d(v, [rows, k])).dataSync()[0]!;
        };
        expect(ours[i]).toBeCloseTo((at(eps) - at(-eps)) / (2 * eps), 3);
      }
      // Row weights: value and gradient of sum_r w_r KL_r (one weight 0, as for padding).
      const w = tf.tensor1d([0.5, 0, 2, 0.25]);
      const weighted = (l: tf.Tensor) =>
        tf.sum(tf.mul(w, tf.sum(tf.mul(t, tf.sub(tf.log(tf.maximum(t, 1e-30)), tf.logSoftmax(l, -1))), 1))) as tf.Scalar;
      expect(klDivergence(t, logits, w).dataSync()[0]).toBeCloseTo(weighted(logits).dataSync()[0]!, 5);
      const oursW = tf.grad((l: tf.Tensor) => klDivergence(t, l, w))(logits).dataSync();
      const referenceW = tf.grad(weighted)(logits).dataSync();
      for (let i = 0; i < base.length; i++) expect(oursW[i]).toBeCloseTo(referenceW[i]!, 5);
      expect(Array.from(oursW.slice(k, 2 * k)).every((v) => v === 0)).toBe(true);
      // Leading axes fold into rows; no gradient reaches the target.
      const t3 = tf.reshape(t, [2, 2, k]);
      const l3 = tf.reshape(logits, [2, 2, k]);
      expect(tf.grad((l: tf.Tensor) => klDivergence(t3, l))(l3).shape).toEqual([2, 2, k]);
      expect(Array.from(tf.grad((x: tf.Tensor) => klDivergence(x, l3))(t3).dataSync()).every((v) => v === 0)).toBe(true);
    });
  });
});

describe('token-level decoder', () => {
  const config: DecoderConfig = { inDim: 8, embedDim: 12, depth: 2, numHeads: 3, grid: 3, mlpRatio: 4, layerNormEps: 1e-6 };

  it('scores every position it holds (visible, then masked), each with its own position embedding', () => {
    const params = createDecoder(config, new Rng(4));
    expect(params['decoder.pos_embed']!.shape).toEqual([1, 10, 12]);
    expect(params['decoder.pos_embed']!.trainable).toBe(false);
    expect(arr(params['decoder.pos_embed']!).slice(0, 12).every((v) => v === 0)).toBe(true); // image slot
    tf.tidy(() => {
      const emb = tf.randomNormal([2, 8], 0, 1, 'float32', 2) as tf.Tensor2D;
      const early = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 3) as tf.Tensor3D;
      const visible = tf.tensor2d([0, 4, 7, 1, 2, 8], [2, 3], 'int32');
      const masked = tf.tensor2d([5, 3, 6, 0], [2, 2], 'int32');
      const one = (e: tf.Tensor2D, tokens: tf.Tensor3D, vis: tf.Tensor2D) => decoderForward(config, params, [{ embedding: e, early: tokens, visible: vis }], masked);
      const out = one(emb, early, visible);
      expect(out.shape).toEqual([2, 5, 12]);
      // Reordering the visible tokens (with their positions) reorders the outputs the same way.
      const perm = tf.tensor1d([2, 0, 1], 'int32');
      const out2 = one(emb, tf.gather(early, perm, 1), tf.gather(visible, perm, 1));
      const a = arr(tf.gather(out, tf.tensor1d([2, 0, 1, 3, 4], 'int32'), 1));
      arr(out2).forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 4));
      // Positions matter: the same tokens at other positions give other outputs.
      const moved = one(emb, early, tf.tensor2d([1, 4, 7, 1, 2, 8], [2, 3], 'int32'));
      expect(Math.max(...arr(tf.abs(tf.sub(moved, out))))).toBeGreaterThan(1e-3);
      // Two rounds of different sizes in one pass: [round 1's V1 + M outputs, round 2's V2 + M], each
      // what the round gives alone.
      const emb2 = tf.randomNormal([2, 8], 0, 1, 'float32', 5) as tf.Tensor2D;
      const early2 = tf.randomNormal([2, 2, 8], 0, 1, 'float32', 6) as tf.Tensor3D;
      const visible2 = tf.tensor2d([1, 2, 4, 5], [2, 2], 'int32');
      const both = decoderForward(config, params, [{ embedding: emb, early, visible }, { embedding: emb2, early: early2, visible: visible2 }], masked);
      expect(both.shape).toEqual([2, 5 + 4, 12]);
      const bothValues = arr(both);
      arr(tf.concat([out, one(emb2, early2, visible2)], 1)).forEach((v, i) => expect(bothValues[i]).toBeCloseTo(v, 4));
      expect(() => decoderForward(config, params, [{ embedding: emb, early: early2, visible }], masked)).toThrow(
        /round 1 needs embedding \[2, 8\], early \[2, 3, 8\] for visible \[2, 3\], got embedding \[2,8\], early \[2,2,8\]/,
      );
    });
    tf.dispose(Object.values(params));
  });
});
