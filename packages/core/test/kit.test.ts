// The method kit (l2Normalize, batchNorm, ringWrite, MLP heads and their init schemes, InfoNCE, KL /
// soft cross entropy, smooth L1, momentum pairs, backboneFields) against hand-computed cases, a plain-JS
// reference, finite differences, and PyTorch (run in the project venv when torch is importable there;
// those tests are skipped, with that reason in their names, when it is not). Every function is also
// checked to leave tf.memory().numTensors unchanged apart from what it returns.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { infoNce } from '../src/losses/info-nce.js';
import { klDivergence, softCrossEntropy } from '../src/losses/kl-divergence.js';
import { smoothL1 } from '../src/losses/smooth-l1.js';
import { BATCH_NORM_EPS, batchNorm } from '../src/nn/batch-norm.js';
import { l2Normalize } from '../src/nn/l2-normalize.js';
import { createMlpHead, linearInit, mlpHeadForward, type MlpHeadConfig } from '../src/nn/mlp-head.js';
import { disposeParams } from '../src/nn/params.js';
import { ringWrite } from '../src/nn/ring-buffer.js';
import { EmaTeacher } from '../src/teacher/ema-teacher.js';
import { checkMomentum, momentumAfterStep, momentumFields, updateMomentumPairs } from '../src/train/momentum.js';
import type { StepInfo } from '../src/train/objective.js';
import { Rng } from '../src/util/rng.js';
import { backboneFields } from '../src/vit/backbone-choice.js';
import { gradcheck } from './gradcheck.js';
import { maxRelDiff, useBackend } from './helpers.js';

beforeAll(async () => {
  await useBackend();
});

const arr = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const randn = (rng: Rng, shape: number[], std = 1): tf.Tensor =>
  tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), 0, std), shape);
/** Rows of a [n, k] distribution: softmax of random logits, as a teacher's. */
const randomDistribution = (rng: Rng, shape: number[], zeroFirst = false): tf.Tensor =>
  tf.tidy(() => {
    const p = tf.softmax(randn(rng, shape, 1.5));
    if (!zeroFirst) return p;
    // A zero probability in column 0 of every row (the 0 log 0 = 0 case), renormalised.
    const k = shape[shape.length - 1]!;
    const mask = tf.concat([tf.zeros([...shape.slice(0, -1), 1]), tf.ones([...shape.slice(0, -1), k - 1])], -1);
    const m = tf.mul(p, mask);
    return tf.div(m, tf.sum(m, -1, true));
  });
const logSumExp = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};

describe('l2Normalize', () => {
  it('[3, 4] -> [0.6, 0.8]; along axis 0; rows of zeros stay zero (the eps clamp)', () => {
    expect(arr(l2Normalize(tf.tensor2d([[3, 4]])))).toEqual([expect.closeTo(0.6, 7), expect.closeTo(0.8, 7)]);
    // [[3, 0], [4, -2], [0, 0]] along axis 0: columns have norms 5 and 2.
    const y = arr(l2Normalize(tf.tensor2d([[3, 0], [4, -2], [0, 0]]), 0));
    [0.6, 0, 0.8, -1, 0, 0].forEach((e, i) => expect(y[i]).toBeCloseTo(e, 6));
    expect(arr(l2Normalize(tf.tensor2d([[0, 0], [1, 0]])))).toEqual([0, 0, 1, 0]);
    // A tiny row below eps is divided by eps, not by its own norm (torch.nn.functional.normalize).
    const tiny = arr(l2Normalize(tf.tensor2d([[3e-6, 4e-6]]), -1, 1e-3));
    expect(tiny[0]).toBeCloseTo(3e-3, 8);
    expect(tiny[1]).toBeCloseTo(4e-3, 8);
    expect(() => l2Normalize(tf.ones([2]), -1, 0)).toThrow(/eps must be > 0/);
  });
});

describe('batchNorm', () => {
  // Columns [1, 2, 3, 6] and [-1, -1, 1, 1] of x [4, 2].
  const X = [[1, -1], [2, -1], [3, 1], [6, 1]];
  const reference = (x: number[][], w?: number[], b?: number[], eps = BATCH_NORM_EPS): number[] => {
    const n = x.length;
    const c = x[0]!.length;
    const out: number[] = new Array(n * c);
    for (let j = 0; j < c; j++) {
      const mean = x.reduce((s, r) => s + r[j]!, 0) / n;
      const variance = x.reduce((s, r) => s + (r[j]! - mean) ** 2, 0) / n; // biased, as torch normalises
      for (let i = 0; i < n; i++) out[i * c + j] = ((x[i]![j]! - mean) / Math.sqrt(variance + eps)) * (w ? w[j]! : 1) + (b ? b[j]! : 0);
    }
    return out;
  };

  it('normalises each column with the batch mean and the biased variance (by hand)', () => {
    // Column 0: mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5 (the unbiased 14/3 would differ).
    const y = arr(batchNorm(tf.tensor2d(X)));
    const s = Math.sqrt(3.5 + 1e-5);
    [-2 / s, -1 / s, 0, 3 / s].forEach((e, i) => expect(y[2 * i]).toBeCloseTo(e, 5));
    // Column 1: mean 0, variance 1.
    [-1, -1, 1, 1].forEach((e, i) => expect(y[2 * i + 1]).toBeCloseTo(e / Math.sqrt(1 + 1e-5), 5));
    expect(BATCH_NORM_EPS).toBe(1e-5);
  });

  it('applies scale and shift when both are given, and a custom eps', () => {
    const y = arr(batchNorm(tf.tensor2d(X), tf.tensor1d([2, -0.5]), tf.tensor1d([1, 3]), 0.5));
    expect(maxRelDiff(y, reference(X, [2, -0.5], [1, 3], 0.5))).toBeLessThan(1e-6);
    // With eps 0.5 the second column is ±1/sqrt(1.5) * -0.5 + 3, far from the eps=1e-5 value.
    expect(y[1]).toBeCloseTo(-1 / Math.sqrt(1.5) * -0.5 + 3, 5);
  });

  it('refuses weight without bias (and bias without weight), and a batch of one row', () => {
    const x = tf.tensor2d(X);
    expect(() => batchNorm(x, tf.ones([2]))).toThrow(/give both weight and bias, or neither/);
    expect(() => batchNorm(x, undefined, tf.zeros([2]))).toThrow(/give both weight and bias, or neither/);
    expect(() => batchNorm(tf.ones([1, 2]) as tf.Tensor2D)).toThrow(/batch statistics need >= 2 rows/);
  });

  it('gradients by finite differences (x, weight, bias)', () => {
    const rng = new Rng(11);
    const x = randn(rng, [5, 3]);
    const w = tf.add(randn(rng, [3], 0.3), 1);
    const b = randn(rng, [3], 0.3);
    const r = randn(rng, [5, 3]);
    const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(batchNorm(xi as tf.Tensor2D, wi, bi), r)) as tf.Scalar;
    const { worstRel, checked } = gradcheck(f, [x, w, b], { eps: 1e-2 });
    expect(checked).toBe(21);
    expect(worstRel).toBeLessThan(2e-2);
  });
});

describe('ringWrite', () => {
  const buf = () => tf.tensor2d([[0, 0], [1, 1], [2, 2], [3, 3]]);
  const rows = (v: number) => tf.tensor2d([[v, -v], [v + 1, -v - 1]]);

  it('writes at the pointer, advances it, and wraps to 0 after the last slot', () => {
    const a = ringWrite(buf(), rows(10), 0);
    expect(arr(a.buffer)).toEqual([10, -10, 11, -11, 2, 2, 3, 3]);
    expect(a.pointer).toBe(2);
    const b = ringWrite(a.buffer, rows(20), a.pointer);
    expect(arr(b.buffer)).toEqual([10, -10, 11, -11, 20, -20, 21, -21]);
    expect(b.pointer).toBe(0);
    const c = ringWrite(b.buffer, rows(30), b.pointer);
    expect(arr(c.buffer)).toEqual([30, -30, 31, -31, 20, -20, 21, -21]);
    expect(c.pointer).toBe(2);
    // A write into the middle keeps both ends.
    const d = ringWrite(buf(), tf.tensor2d([[7, 7]]), 1);
    expect(arr(d.buffer)).toEqual([0, 0, 7, 7, 2, 2, 3, 3]);
    expect(d.pointer).toBe(2);
    // The whole buffer at once.
    const e = ringWrite(tf.tensor2d([[1, 1], [2, 2]]), rows(5), 0);
    expect(arr(e.buffer)).toEqual([5, -5, 6, -6]);
    expect(e.pointer).toBe(0);
  });

  it('leaves the input buffer and rows as they were (neither disposed nor changed)', () => {
    const b = buf();
    const r = rows(10);
    ringWrite(b, r, 2);
    expect(arr(b)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(arr(r)).toEqual([10, -10, 11, -11]);
  });

  it('refuses a write that does not fit (no wrap mid-way), a bad pointer and a width mismatch', () => {
    expect(() => ringWrite(buf(), rows(1), 3)).toThrow(/pointer 3 \+ 2 rows does not fit a buffer of 4/);
    expect(() => ringWrite(tf.zeros([3, 2]) as tf.Tensor2D, rows(1), 2)).toThrow(/does not fit a buffer of 3/);
    expect(() => ringWrite(buf(), rows(1), -1)).toThrow(/does not fit/);
    expect(() => ringWrite(buf(), rows(1), 0.5)).toThrow(/does not fit/);
    expect(() => ringWrite(buf(), tf.ones([2, 3]) as tf.Tensor2D, 0)).toThrow(/rows \[2,3\] for a buffer \[4,2\]/);
  });
});

describe('createMlpHead / mlpHeadForward', () => {
  const namesAndShapes = (v: Record<string, tf.Tensor>) => Object.fromEntries(Object.entries(v).map(([n, t]) => [n, t.shape]));

  it("names variables as torch's nn.Sequential indexes its modules", () => {
    const rng = new Rng(0);
    // MoCo v3: Linear(0) BN(1) ReLU(2) Linear(3) BN(4) ReLU(5) Linear(6) BN(7, affine=False).
    const all = createMlpHead('head', { dims: [4, 8, 6, 3], bias: false, batchNorm: 'all', init: 'torch-default' }, rng, 'm');
    expect(namesAndShapes(all)).toEqual({
      'head.0.weight': [4, 8],
      'head.1.weight': [8],
      'head.1.bias': [8],
      'head.3.weight': [8, 6],
      'head.4.weight': [6],
      'head.4.bias': [6],
      'head.6.weight': [6, 3],
    });
    // BN weights start at 1, shifts at 0; everything trainable, the variable named owner/name/...
    expect(arr(all['head.1.weight']!)).toEqual(new Array(8).fill(1));
    expect(arr(all['head.4.bias']!)).toEqual(new Array(6).fill(0));
    for (const [n, v] of Object.entries(all)) {
      expect(v.trainable, n).toBe(true);
      expect(v.name.startsWith(`m/${n}/`), v.name).toBe(true);
    }
    // 'hidden' with biases: no BN after the last linear.
    const hidden = createMlpHead('proj', { dims: [4, 8, 3], batchNorm: 'hidden', init: 'xavier-uniform' }, rng, 'm');
    expect(namesAndShapes(hidden)).toEqual({
      'proj.0.weight': [4, 8],
      'proj.0.bias': [8],
      'proj.1.weight': [8],
      'proj.1.bias': [8],
      'proj.3.weight': [8, 3],
      'proj.3.bias': [3],
    });
    // Without BN: Linear(0) act(1) Linear(2) act(3) Linear(4).
    const none = createMlpHead('head', { dims: [4, 8, 5, 3], init: 'trunc-normal' }, rng, 'm');
    expect(namesAndShapes(none)).toEqual({
      'head.0.weight': [4, 8],
      'head.0.bias': [8],
      'head.2.weight': [8, 5],
      'head.2.bias': [5],
      'head.4.weight': [5, 3],
      'head.4.bias': [3],
    });
    // A single linear.
    expect(namesAndShapes(createMlpHead('p', { dims: [4, 2], bias: false, batchNorm: 'all', init: 'trunc-normal' }, rng, 'm'))).toEqual({ 'p.0.weight': [4, 2] });
    expect(() => createMlpHead('h', { dims: [4], init: 'trunc-normal' }, rng, 'm')).toThrow(/dims must be >= 2 positive integers/);
    expect(() => createMlpHead('h', { dims: [4, 0], init: 'trunc-normal' }, rng, 'm')).toThrow(/dims must be >= 2 positive integers/);
    expect(() => createMlpHead('h', { dims: [4, 2.5], init: 'trunc-normal' }, rng, 'm')).toThrow(/dims must be >= 2 positive integers/);
    for (const v of [all, hidden, none]) disposeParams(v);
  });

  const stats = (x: ArrayLike<number>) => {
    let s = 0;
    let s2 = 0;
    let maxAbs = 0;
    for (let i = 0; i < x.length; i++) {
      s += x[i]!;
      s2 += x[i]! * x[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(x[i]!));
    }
    const mean = s / x.length;
    return { mean, std: Math.sqrt(s2 / x.length - mean * mean), maxAbs };
  };

  it("init statistics per scheme: torch-default U(±1/sqrt(fan_in)) for weight and bias", () => {
    const head = createMlpHead('h', { dims: [64, 400, 100], init: 'torch-default' }, new Rng(1), 'm');
    for (const [w, b, fanIn] of [['h.0.weight', 'h.0.bias', 64], ['h.2.weight', 'h.2.bias', 400]] as const) {
      const bound = 1 / Math.sqrt(fanIn);
      const sw = stats(head[w]!.dataSync());
      expect(sw.maxAbs, w).toBeLessThanOrEqual(bound);
      expect(sw.maxAbs, w).toBeGreaterThan(0.99 * bound);
      expect(sw.std / (bound / Math.sqrt(3)), w).toBeCloseTo(1, 1);
      expect(Math.abs(sw.mean), w).toBeLessThan(0.02 * bound);
      const sb = stats(head[b]!.dataSync());
      expect(sb.maxAbs, b).toBeLessThanOrEqual(bound);
      expect(sb.maxAbs, b).toBeGreaterThan(0.9 * bound); // the fan_in bound, not a zero or a fan_out bound
      expect(sb.std / (bound / Math.sqrt(3)), b).toBeGreaterThan(0.8);
      expect(sb.std / (bound / Math.sqrt(3)), b).toBeLessThan(1.2);
    }
    disposeParams(head);
  });

  it('init statistics per scheme: xavier-uniform U(±sqrt(6/(in+out))) and zero bias', () => {
    const head = createMlpHead('h', { dims: [64, 400, 100], init: 'xavier-uniform' }, new Rng(2), 'm');
    for (const [w, b, fanIn, fanOut] of [['h.0.weight', 'h.0.bias', 64, 400], ['h.2.weight', 'h.2.bias', 400, 100]] as const) {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      const sw = stats(head[w]!.dataSync());
      expect(sw.maxAbs, w).toBeLessThanOrEqual(bound);
      expect(sw.maxAbs, w).toBeGreaterThan(0.99 * bound);
      expect(sw.std / (bound / Math.sqrt(3)), w).toBeCloseTo(1, 1);
      expect(arr(head[b]!).every((v) => v === 0), b).toBe(true);
    }
    disposeParams(head);
  });

  it('init statistics per scheme: trunc-normal std 0.02, zero bias', () => {
    const head = createMlpHead('h', { dims: [64, 400, 100], init: 'trunc-normal' }, new Rng(3), 'm');
    for (const [w, b] of [['h.0.weight', 'h.0.bias'], ['h.2.weight', 'h.2.bias']] as const) {
      const sw = stats(head[w]!.dataSync());
      expect(sw.std / 0.02, w).toBeCloseTo(1, 1);
      expect(Math.abs(sw.mean), w).toBeLessThan(5e-4);
      expect(sw.maxAbs, w).toBeGreaterThan(0.06); // a normal's tail (3 std), not a uniform's bound
      expect(sw.maxAbs, w).toBeLessThan(0.2);
      expect(arr(head[b]!).every((v) => v === 0), b).toBe(true);
    }
    disposeParams(head);
  });

  it('linearInit: weight drawn before bias, bias omitted when not asked for, deterministic per seed', () => {
    const a = linearInit('torch-default', new Rng(9), 4, 3, true);
    const r = new Rng(9);
    expect(Array.from(a.weight)).toEqual(Array.from(r.uniformArray(12, -0.5, 0.5)));
    expect(Array.from(a.bias as Float32Array)).toEqual(Array.from(r.uniformArray(3, -0.5, 0.5)));
    expect(linearInit('torch-default', new Rng(9), 4, 3, false).bias).toBeUndefined();
    expect(linearInit('xavier-uniform', new Rng(9), 4, 3, true).bias).toBe('zeros');
    expect(linearInit('trunc-normal', new Rng(9), 4, 3, false).bias).toBeUndefined();
    expect(linearInit('trunc-normal', new Rng(9), 4, 3, true).weight.length).toBe(12);
  });

  // Plain-JS reference of the forward pass in float64.
  const matVec = (x: number[][], w: number[], dout: number, b?: number[]) =>
    x.map((row) => Array.from({ length: dout }, (_, j) => row.reduce((s, v, i) => s + v * w[i * dout + j]!, 0) + (b ? b[j]! : 0)));
  /** Column j of x normalised with the batch mean and biased variance (eps 1e-5). */
  const normalisedColumn = (x: number[][]) => (j: number) => {
    const col = x.map((r) => r[j]!);
    const mean = col.reduce((s, v) => s + v, 0) / col.length;
    const variance = col.reduce((s, v) => s + (v - mean) ** 2, 0) / col.length;
    return col.map((v) => (v - mean) / Math.sqrt(variance + 1e-5));
  };
  const bnRef = (x: number[][], w?: number[], bias?: number[]) => {
    const column = normalisedColumn(x);
    const c = x[0]!.length;
    const cols = Array.from({ length: c }, (_, j) => column(j));
    return x.map((_, i) => Array.from({ length: c }, (_, j) => cols[j]![i]! * (w ? w[j]! : 1) + (bias ? bias[j]! : 0)));
  };
  const erf = (x: number): number => {
    // The Maclaurin series erf(x) = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)), float64-exact for |x| < 3.
    let sum = 0;
    let term = x;
    for (let n = 0; n < 80; n++) {
      sum += term / (2 * n + 1);
      term *= (-x * x) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  const geluRef = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

  const forwardRef = (c: MlpHeadConfig, p: Record<string, number[]>, x: number[][], prefix: string) => {
    const per = (c.batchNorm ?? 'none') === 'none' ? 2 : 3;
    let h = x;
    const layers = c.dims.length - 1;
    for (let l = 0; l < layers; l++) {
      const name = `${prefix}.${per * l}`;
      h = matVec(h, p[`${name}.weight`]!, c.dims[l + 1]!, p[`${name}.bias`]);
      const last = l === layers - 1;
      if (per === 3 && !last) h = bnRef(h, p[`${prefix}.${per * l + 1}.weight`], p[`${prefix}.${per * l + 1}.bias`]);
      if (last && c.batchNorm === 'all') h = bnRef(h);
      if (!last) h = h.map((r) => r.map((v) => (c.activation === 'gelu' ? geluRef(v) : Math.max(v, 0))));
    }
    return h.flat();
  };

  const configs: MlpHeadConfig[] = [
    { dims: [5, 7, 6, 3], bias: false, batchNorm: 'all', init: 'torch-default' },
    { dims: [5, 7, 3], batchNorm: 'hidden', activation: 'gelu', init: 'xavier-uniform' },
    { dims: [5, 7, 6, 3], activation: 'gelu', init: 'torch-default' },
    { dims: [5, 7, 3], batchNorm: 'none', init: 'torch-default' },
  ];
  it.each(configs.map((c) => [`${c.dims.join('-')} bn=${c.batchNorm ?? 'none'} act=${c.activation ?? 'relu'} bias=${c.bias ?? true}`, c] as const))(
    'mlpHeadForward matches a float64 hand computation: %s',
    (_, c) => {
      const rng = new Rng(21);
      const vars = createMlpHead('head', c, rng, 'fwd');
      // Non-trivial BN affines so their use is checked too.
      for (const v of Object.values(vars)) if (v.shape.length === 1) v.assign(tf.add(v, randn(rng, v.shape, 0.5)));
      const x = Array.from({ length: 6 }, () => Array.from(rng.normalArray(5)));
      const y = mlpHeadForward('head', c, vars, tf.tensor2d(x));
      expect(y.shape).toEqual([6, 3]);
      const p = Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, arr(v)]));
      expect(maxRelDiff(arr(y), forwardRef(c, p, x, 'head'))).toBeLessThan(1e-5);
      if (c.batchNorm === 'all') {
        // The last BN has no affine: every output column has batch mean 0 and biased variance ~1.
        const cols = normalisedColumn(Array.from({ length: 6 }, (_, i) => arr(y).slice(i * 3, i * 3 + 3)));
        for (let j = 0; j < 3; j++) expect(maxRelDiff(cols(j), arr(y).filter((_, k) => k % 3 === j))).toBeLessThan(1e-3);
      }
      expect(() => mlpHeadForward('other', c, vars, tf.tensor2d(x))).toThrow(/missing parameter 'other.0.weight'/);
      disposeParams(vars);
    },
  );
});

describe('infoNce', () => {
  // Query rows e1, e2; key rows (0.6, 0.8) and e2; temperature 0.5.
  const Q = [[1, 0], [0, 1]];
  const K = [[0.6, 0.8], [0, 1]];

  it('in-batch negatives: [N, N] logits with the positives on the diagonal, hand-computed loss', () => {
    const { loss, logits } = infoNce(tf.tensor2d(Q), tf.tensor2d(K), { temperature: 0.5 });
    // q·k: row 0 [0.6, 0], row 1 [0.8, 1]; over T = 0.5: [[1.2, 0], [1.6, 2]].
    expect(logits.shape).toEqual([2, 2]);
    [1.2, 0, 1.6, 2].forEach((e, i) => expect(arr(logits)[i]).toBeCloseTo(e, 5));
    const want = (logSumExp([1.2, 0]) - 1.2 + (logSumExp([1.6, 2]) - 2)) / 2;
    expect(loss.shape).toEqual([]);
    expect(loss.dataSync()[0]).toBeCloseTo(want, 5);
  });

  it('normalises query and key unless told they are unit rows', () => {
    // The same directions, scaled: the loss is unchanged.
    const q = tf.tensor2d([[2, 0], [0, 0.5]]);
    const k = tf.tensor2d([[3, 4], [0, 7]]);
    const { loss, logits } = infoNce(q, k, { temperature: 0.5 });
    [1.2, 0, 1.6, 2].forEach((e, i) => expect(arr(logits)[i]).toBeCloseTo(e, 5));
    expect(loss.dataSync()[0]).toBeCloseTo((logSumExp([1.2, 0]) - 1.2 + (logSumExp([1.6, 2]) - 2)) / 2, 5);
    // normalized: true uses them as given: logits are the raw dot products over T.
    const raw = infoNce(q, k, { temperature: 0.5, normalized: true });
    [12, 0, 4, 7].forEach((e, i) => expect(arr(raw.logits)[i]).toBeCloseTo(e, 4));
    expect(raw.loss.dataSync()[0]).toBeCloseTo((logSumExp([12, 0]) - 12 + (logSumExp([4, 7]) - 7)) / 2, 4);
  });

  it('with a queue: [N, 1 + K] logits with the positive in column 0, hand-computed loss', () => {
    const queue = tf.tensor2d([[-1, 0], [0, -1], [0.6, 0.8]]);
    const { loss, logits } = infoNce(tf.tensor2d(Q), tf.tensor2d(K), { temperature: 0.5, queue });
    // Row 0: q = e1, positive 0.6, queue dots [-1, 0, 0.6]; row 1: q = e2, positive 1, queue dots [0, -1, 0.8].
    const want = [[1.2, -2, 0, 1.2], [2, 0, -2, 1.6]];
    expect(logits.shape).toEqual([2, 4]);
    want.flat().forEach((e, i) => expect(arr(logits)[i]).toBeCloseTo(e, 5));
    const l = (logSumExp(want[0]!) - 1.2 + (logSumExp(want[1]!) - 2)) / 2;
    expect(loss.dataSync()[0]).toBeCloseTo(l, 5);
    // The queue is used as given (not normalised): doubling it doubles its logits.
    const doubled = infoNce(tf.tensor2d(Q), tf.tensor2d(K), { temperature: 0.5, queue: tf.mul(queue, 2) as tf.Tensor2D });
    [1.2, -4, 0, 2.4].forEach((e, i) => expect(arr(doubled.logits)[i]).toBeCloseTo(e, 5));
  });

  it('refuses mismatched shapes, a non-positive temperature and a queue of another width', () => {
    const q = tf.ones([2, 3]) as tf.Tensor2D;
    expect(() => infoNce(q, tf.ones([3, 3]) as tf.Tensor2D, { temperature: 1 })).toThrow(/query \[2,3\] and key \[3,3\] differ/);
    expect(() => infoNce(q, q, { temperature: 0 })).toThrow(/temperature must be > 0/);
    expect(() => infoNce(q, q, { temperature: Number.NaN })).toThrow(/temperature must be > 0/);
    expect(() => infoNce(q, q, { temperature: 1, queue: tf.ones([4, 2]) as tf.Tensor2D })).toThrow(/queue \[4,2\] for queries \[2,3\]/);
  });

  it('gradients through the normalisation by finite differences (both modes)', () => {
    const rng = new Rng(4);
    const q = randn(rng, [3, 4]);
    const k = randn(rng, [3, 4]);
    const queue = l2Normalize(randn(rng, [5, 4]) as tf.Tensor2D);
    for (const opts of [{ temperature: 0.7 }, { temperature: 0.7, queue }]) {
      const f = (a: tf.Tensor, b: tf.Tensor) => infoNce(a as tf.Tensor2D, b as tf.Tensor2D, opts).loss;
      const { worstRel, checked } = gradcheck(f, [q, k], { eps: 1e-2 });
      expect(checked).toBe(24);
      expect(worstRel).toBeLessThan(3e-2);
    }
  });
});

describe('smoothL1', () => {
  it('both branches, by hand (beta 1 and beta 2)', () => {
    const pred = tf.tensor([0.5, -3, 2, 1]);
    const target = tf.tensor([0, 0, 1.5, -1]);
    // |d| = [0.5, 3, 0.5, 2]; beta 1: [0.125, 2.5, 0.125, 1.5] -> mean 1.0625.
    expect(smoothL1(pred, target).dataSync()[0]).toBeCloseTo((0.125 + 2.5 + 0.125 + 1.5) / 4, 6);
    // beta 2: 0.5 d^2 / 2 below 2, d - 1 at or above: [0.0625, 2, 0.0625, 1] -> mean 0.78125.
    expect(smoothL1(pred, target, 2).dataSync()[0]).toBeCloseTo((0.0625 + 2 + 0.0625 + 1) / 4, 6);
    // Continuous at |d| = beta, and a mean over every element of a [2, 2].
    expect(smoothL1(tf.tensor([[1, 1], [1, 1]]), tf.zeros([2, 2])).dataSync()[0]).toBeCloseTo(0.5, 6);
  });

  it('gradient: d/beta inside, sign(d) outside', () => {
    const pred = tf.tensor([0.5, -3, 2, 1]);
    const target = tf.tensor([0, 0, 1.5, -1]);
    const g = arr(tf.grad((p: tf.Tensor) => smoothL1(p, target, 1))(pred));
    [0.5, -1, 0.5, 1].forEach((e, i) => expect(g[i]).toBeCloseTo(e / 4, 6));
  });

  it('refuses different shapes and a non-positive beta', () => {
    expect(() => smoothL1(tf.ones([2, 2]), tf.ones([4]))).toThrow(/pred \[2,2\] and target \[4\] differ/);
    expect(() => smoothL1(tf.ones([2]), tf.ones([2]), 0)).toThrow(/beta must be > 0/);
  });
});

describe('klDivergence / softCrossEntropy', () => {
  // Target [0.5, 0.5, 0] (a zero: 0 log 0 = 0) and [0.25, 0.25, 0.5]; logits [0, ln 2, 0] and zeros.
  const T = [[0.5, 0.5, 0], [0.25, 0.25, 0.5]];
  const L = [[0, Math.log(2), 0], [0, 0, 0]];
  // softmax row 0: [1/4, 1/2, 1/4]; row 1: [1/3, 1/3, 1/3].
  const ce0 = -(0.5 * Math.log(0.25) + 0.5 * Math.log(0.5));
  const ce1 = -(0.5 * Math.log(1 / 3) + 0.5 * Math.log(1 / 3));
  const h0 = -(0.5 * Math.log(0.5) * 2);
  const h1 = -(0.25 * Math.log(0.25) * 2 + 0.5 * Math.log(0.5));

  it('values by hand; they differ by exactly the mean target entropy', () => {
    const ce = softCrossEntropy(tf.tensor2d(T), tf.tensor2d(L)).dataSync()[0]!;
    const kl = klDivergence(tf.tensor2d(T), tf.tensor2d(L)).dataSync()[0]!;
    expect(ce).toBeCloseTo((ce0 + ce1) / 2, 6);
    expect(kl).toBeCloseTo((ce0 - h0 + ce1 - h1) / 2, 6);
    expect(ce - kl).toBeCloseTo((h0 + h1) / 2, 6);
    // KL of a distribution against itself is 0.
    expect(klDivergence(tf.tensor2d([[0.25, 0.5, 0.25]]), tf.tensor2d([L[0]!])).dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('with row weights: the weighted sum of the rows (not the mean), over any leading shape', () => {
    const w = [3, 0.5];
    const ce = softCrossEntropy(tf.tensor2d(T), tf.tensor2d(L), tf.tensor1d(w)).dataSync()[0]!;
    const kl = klDivergence(tf.tensor2d(T), tf.tensor2d(L), tf.tensor1d(w)).dataSync()[0]!;
    expect(ce).toBeCloseTo(3 * ce0 + 0.5 * ce1, 5);
    expect(kl).toBeCloseTo(3 * (ce0 - h0) + 0.5 * (ce1 - h1), 5);
    // [2, 1, 3] target with [2, 1] weights is the same rows.
    const t3 = tf.tensor3d([[T[0]!], [T[1]!]]);
    const l3 = tf.tensor3d([[L[0]!], [L[1]!]]);
    expect(klDivergence(t3, l3, tf.tensor2d([[3], [0.5]])).dataSync()[0]).toBeCloseTo(kl, 5);
    // Unweighted over [2, 1, 3]: the mean over both rows.
    expect(softCrossEntropy(t3, l3).dataSync()[0]).toBeCloseTo((ce0 + ce1) / 2, 6);
  });

  it('refuses mismatched shapes and weights of the wrong shape', () => {
    expect(() => klDivergence(tf.ones([2, 3]), tf.ones([2, 4]))).toThrow(/klDivergence: target \[2,3\] and logits \[2,4\] differ/);
    expect(() => softCrossEntropy(tf.ones([2, 3]), tf.ones([2, 3]), tf.ones([3]))).toThrow(/softCrossEntropy: weights \[3\] must be the target's leading shape \[2\]/);
    expect(() => klDivergence(tf.ones([2, 2, 3]), tf.ones([2, 2, 3]), tf.ones([4]))).toThrow(/weights \[4\] must be the target's leading shape \[2,2\]/);
  });

  const cases = [
    { name: 'mean', weights: undefined as number[] | undefined },
    { name: 'weighted', weights: [0.7, 0, 2.5, 1.2, 0.3, 1] },
  ];
  for (const fn of [klDivergence, softCrossEntropy]) {
    for (const c of cases) {
      it(`${fn.name} (${c.name}): logits gradient by finite differences equals w * (softmax - target); the target's is 0`, () => {
        const rng = new Rng(c.weights ? 7 : 8);
        const target = randomDistribution(rng, [2, 3, 5], true);
        const logits = randn(rng, [2, 3, 5], 1.5);
        const w = c.weights ? tf.tensor(c.weights, [2, 3]) : undefined;
        const f = (l: tf.Tensor) => fn(target, l, w);
        const { worstRel, checked } = gradcheck(f, [logits], { eps: 1e-2 });
        expect(checked).toBe(30);
        expect(worstRel).toBeLessThan(2e-2);
        // The closed form, and zero for the target (a teacher's constant) and for the weights.
        const inputs = w ? [target, logits, w] : [target, logits];
        const grads = tf.grads((...xs: tf.Tensor[]) => fn(xs[0]!, xs[1]!, xs[2]))(inputs);
        const rowW = c.weights ?? new Array(6).fill(1 / 6);
        const sm = arr(tf.softmax(logits));
        const t = arr(target);
        const want = sm.map((s, i) => rowW[Math.floor(i / 5)]! * (s - t[i]!));
        expect(maxRelDiff(arr(grads[1]!), want)).toBeLessThan(1e-5);
        expect(arr(grads[0]!).every((v) => v === 0)).toBe(true);
        if (w) expect(arr(grads[2]!).every((v) => v === 0)).toBe(true);
      });
    }
  }

  it('the hand-written gradient takes the upstream gradient: finite differences through (loss)^2 and a second use', () => {
    const rng = new Rng(12);
    const target = randomDistribution(rng, [3, 4]);
    const logits = randn(rng, [3, 4]);
    const w = tf.tensor1d([1, 0.5, 2]);
    for (const fn of [klDivergence, softCrossEntropy]) {
      const f = (l: tf.Tensor) => tf.add(tf.square(fn(target, l, w)), tf.mul(fn(target, tf.mul(l, 2)), -0.7)) as tf.Scalar;
      expect(gradcheck(f, [logits], { eps: 1e-2 }).worstRel, fn.name).toBeLessThan(2e-2);
    }
  });

  it('targets that are not distributions: the gradient scales softmax by the row mass', () => {
    const target = tf.tensor2d([[1, 2, 0], [0, 0, 0.5]]);
    const logits = tf.tensor2d(L);
    const g = arr(tf.grad((l: tf.Tensor) => softCrossEntropy(target, l))(logits));
    const sm = [[0.25, 0.5, 0.25], [1 / 3, 1 / 3, 1 / 3]];
    const want = [0, 1].flatMap((r) => [0, 1, 2].map((j) => ((r === 0 ? 3 : 0.5) * sm[r]![j]! - arr(target)[r * 3 + j]!) / 2));
    expect(maxRelDiff(g, want)).toBeLessThan(1e-5);
    const { worstRel } = gradcheck((l) => softCrossEntropy(target, l), [logits]);
    expect(worstRel).toBeLessThan(2e-2);
  });
});

describe('momentum pairs', () => {
  const info = (step: number, totalSteps = 10): StepInfo => ({ step, totalSteps, epoch: 0 });
  // m(s) = end - (end - base) (cos(pi s / total) + 1) / 2; after step s the teachers move with m(s + 1).
  const m = (s: number, base: number, end: number, total = 10) => end - ((end - base) * (Math.cos((Math.PI * s) / total) + 1)) / 2;

  it('momentumAfterStep is m(step + 1) of the half cosine: first, middle and last steps', () => {
    expect(momentumAfterStep(info(0), 0.9, 0.99)).toBeCloseTo(m(1, 0.9, 0.99), 12);
    expect(momentumAfterStep(info(0), 0.9, 0.99)).toBeGreaterThan(0.9); // not m(0)
    expect(momentumAfterStep(info(4), 0.9, 0.99)).toBeCloseTo(0.945, 12); // m(5): half way
    expect(momentumAfterStep(info(9), 0.9, 0.99)).toBeCloseTo(0.99, 12); // m(10): the end
    expect(momentumAfterStep(info(12), 0.9, 0.99)).toBeCloseTo(0.99, 12); // past the plan: the end
    expect(momentumAfterStep(info(3), 0.996, 0.996)).toBeCloseTo(0.996, 12); // constant
    expect(momentumAfterStep(info(0, 1), 0.9, 1)).toBe(1);
  });

  it('updateMomentumPairs moves every teacher towards its student with exactly that momentum', () => {
    const a = { w: tf.variable(tf.tensor([1, 2, 3])), b: tf.variable(tf.tensor([[4]])) };
    const c = { v: tf.variable(tf.tensor([-1, 1])) };
    const ta = new EmaTeacher(a, 'ta');
    const tc = new EmaTeacher(c, 'tc');
    a.w.assign(tf.tensor([3, 2, 1]));
    a.b.assign(tf.tensor([[0]]));
    c.v.assign(tf.tensor([1, 3]));
    updateMomentumPairs({ pairs: [{ student: a, teacher: ta }, { student: c, teacher: tc }], momentum: 0.9, momentumEnd: 0.99 }, info(4));
    const k = 0.945;
    [1, 2, 3].forEach((t0, i) => expect(arr(ta.params.w!)[i]).toBeCloseTo(k * t0 + (1 - k) * [3, 2, 1][i]!, 6));
    expect(arr(ta.params.b!)[0]).toBeCloseTo(k * 4, 6);
    [-1, 1].forEach((t0, i) => expect(arr(tc.params.v!)[i]).toBeCloseTo(k * t0 + (1 - k) * [1, 3][i]!, 6));
    // The students are untouched.
    expect(arr(a.w)).toEqual([3, 2, 1]);
    // After the last step the momentum is momentumEnd = 1: the teacher stays.
    const before = arr(ta.params.w!);
    updateMomentumPairs({ pairs: [{ student: a, teacher: ta }], momentum: 0.9, momentumEnd: 1 }, info(9));
    expect(arr(ta.params.w!)).toEqual(before);
    ta.dispose();
    tc.dispose();
    tf.dispose([a.w, a.b, c.v]);
  });

  it('momentumFields defaults and bounds; checkMomentum refuses momentumEnd below momentum', () => {
    const schema = z.object({ ...momentumFields(0.99, 1), temperature: z.number().default(0.2) }).superRefine(checkMomentum);
    expect(schema.parse({})).toEqual({ momentum: 0.99, momentumEnd: 1, temperature: 0.2 });
    expect(schema.parse({ momentum: 0.9, momentumEnd: 0.9 })).toMatchObject({ momentum: 0.9, momentumEnd: 0.9 });
    const bad = schema.safeParse({ momentum: 0.99, momentumEnd: 0.98 });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues).toHaveLength(1);
    expect(bad.error!.issues[0]!.path).toEqual(['momentumEnd']);
    expect(bad.error!.issues[0]!.message).toBe('momentumEnd 0.98 is below momentum 0.99');
    // The default end against a larger given start is checked too.
    expect(schema.safeParse({ momentum: 0.9 }).success).toBe(true);
    expect(z.object(momentumFields(0.9, 0.95)).superRefine(checkMomentum).safeParse({ momentum: 0.97 }).success).toBe(false);
    expect(schema.safeParse({ momentum: 1.1 }).success).toBe(false);
    expect(schema.safeParse({ momentumEnd: -0.1 }).success).toBe(false);
  });
});

describe('backboneFields', () => {
  const schema = z.object({ ...backboneFields('vit-mini/4'), maskRatio: z.number().default(0.75) });

  it('defaults to the preset and no overrides', () => {
    expect(schema.parse({})).toEqual({ backbone: 'vit-mini/4', backboneOverrides: {}, maskRatio: 0.75 });
    expect(z.object(backboneFields('vit-small/16')).parse({}).backbone).toBe('vit-small/16');
    expect(schema.parse({ backbone: 'vit-tiny/16', backboneOverrides: { depth: 2, embedDim: 96 } })).toEqual({
      backbone: 'vit-tiny/16',
      backboneOverrides: { depth: 2, embedDim: 96 },
      maskRatio: 0.75,
    });
  });

  it('refuses unknown presets and unknown or image-shape override fields (strict)', () => {
    expect(schema.safeParse({ backbone: 'vit-huge/14' }).success).toBe(false);
    for (const extra of [{ imageSize: 32 }, { inChannels: 3 }, { depht: 2 }]) {
      const r = schema.safeParse({ backboneOverrides: extra });
      expect(r.success, JSON.stringify(extra)).toBe(false);
      expect(r.error!.issues[0]!.path[0]).toBe('backboneOverrides');
    }
    expect(schema.safeParse({ backboneOverrides: { depth: '2' } }).success).toBe(false);
  });
});

describe('no leaks: numTensors changes only by the outputs', () => {
  /** Runs f, disposes what it returns, and checks the tensor count is back where it was. */
  const leaves = (name: string, f: () => tf.TensorContainer) => {
    const before = tf.memory().numTensors;
    const out = f();
    tf.dispose(out);
    expect(tf.memory().numTensors, name).toBe(before);
  };

  it('every function, forward and (for the losses and heads) backward', () => {
    const rng = new Rng(5);
    const x = randn(rng, [4, 3]) as tf.Tensor2D;
    const y = randn(rng, [4, 3]) as tf.Tensor2D;
    const w = tf.ones([3]);
    const b = tf.zeros([3]);
    const queue = l2Normalize(randn(rng, [8, 3]) as tf.Tensor2D);
    const target = randomDistribution(rng, [4, 3]);
    const weights = tf.ones([4]);
    const head: MlpHeadConfig = { dims: [3, 5, 2], bias: false, batchNorm: 'all', init: 'torch-default' };
    const params = createMlpHead('h', head, rng, 'leak');

    leaves('l2Normalize', () => l2Normalize(x));
    leaves('batchNorm', () => batchNorm(x));
    leaves('batchNorm affine', () => batchNorm(x, w, b));
    leaves('ringWrite', () => ringWrite(queue, x, 4).buffer);
    leaves('infoNce', () => Object.values(infoNce(x, y, { temperature: 0.2 })));
    leaves('infoNce queue', () => Object.values(infoNce(x, y, { temperature: 0.2, queue })));
    leaves('smoothL1', () => smoothL1(x, y, 0.5));
    leaves('klDivergence', () => klDivergence(target, x));
    leaves('klDivergence weighted', () => klDivergence(target, x, weights));
    leaves('softCrossEntropy', () => softCrossEntropy(target, x));
    leaves('softCrossEntropy weighted', () => softCrossEntropy(target, x, weights));
    leaves('mlpHeadForward', () => mlpHeadForward('h', head, params, x));
    leaves('createMlpHead', () => Object.values(createMlpHead('g', head, rng, 'leak')));
    leaves('grads klDivergence', () => tf.grads((t: tf.Tensor, l: tf.Tensor) => klDivergence(t, l, weights))([target, x]));
    leaves('grads softCrossEntropy', () => tf.grads((t: tf.Tensor, l: tf.Tensor) => softCrossEntropy(t, l))([target, x]));
    leaves('grads infoNce', () => tf.grads((q: tf.Tensor, k: tf.Tensor) => infoNce(q as tf.Tensor2D, k as tf.Tensor2D, { temperature: 0.2, queue }).loss)([x, y]));
    leaves('grads mlpHead', () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(mlpHeadForward('h', head, params, x)) as tf.Scalar);
      return [value, ...Object.values(grads)];
    });
    const student = { p: tf.variable(tf.ones([3])) };
    const teacher = new EmaTeacher(student, 'leak-t');
    leaves('updateMomentumPairs', () => {
      updateMomentumPairs({ pairs: [{ student, teacher }], momentum: 0.9, momentumEnd: 1 }, { step: 0, totalSteps: 5, epoch: 0 });
      return [];
    });
    teacher.dispose();
    disposeParams(params);
    tf.dispose([x, y, w, b, queue, target, weights, student.p]);
  });
});

// ---------------------------------------------------------------------------------------------
// PyTorch reference, run in the project venv when torch is importable.

const PYTHON = fileURLToPath(new URL('../../../.cache/venv/bin/python', import.meta.url));
const HAS_TORCH = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

const TORCH_SCRIPT = `
import json, sys, torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
f = json.load(sys.stdin)
T = lambda name: torch.tensor(f[name]['data']).reshape(f[name]['shape'])
out = {}
# InfoNCE: the same logits, then torch's cross entropy with the positive's index as the label.
tau = f['temperature']
q = T('q').requires_grad_(); k = T('k').requires_grad_(); queue = T('queue')
qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
lg = qn @ kn.t() / tau
loss = F.cross_entropy(lg, torch.arange(lg.shape[0]))
gq, gk = torch.autograd.grad(loss, [q, k])
out['batch'] = {'loss': loss.item(), 'logits': lg.flatten().tolist(), 'gq': gq.flatten().tolist(), 'gk': gk.flatten().tolist()}
qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
lg = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.t()], 1) / tau
loss = F.cross_entropy(lg, torch.zeros(lg.shape[0], dtype=torch.long))
gq, gk = torch.autograd.grad(loss, [q, k])
out['queue'] = {'loss': loss.item(), 'logits': lg.flatten().tolist(), 'gq': gq.flatten().tolist(), 'gk': gk.flatten().tolist()}
# KL / soft cross entropy over [2, 3, K] with and without row weights.
t = T('target'); l = T('logits').requires_grad_(); w = T('weights')
ls = F.log_softmax(l, -1)
K = l.shape[-1]
kl = F.kl_div(ls.reshape(-1, K), t.reshape(-1, K), reduction='batchmean')
ce = -(t * ls).sum(-1).mean()
klw = (F.kl_div(ls, t, reduction='none').sum(-1) * w).sum()
cew = (-(t * ls).sum(-1) * w).sum()
out['kl'] = {'kl': kl.item(), 'ce': ce.item(), 'klw': klw.item(), 'cew': cew.item(),
  'gkl': torch.autograd.grad(kl, l, retain_graph=True)[0].flatten().tolist(),
  'gklw': torch.autograd.grad(klw, l, retain_graph=True)[0].flatten().tolist()}
# BatchNorm1d in training mode, affine and not; gradients of a weighted sum of the output.
x = T('bnX').requires_grad_(); r = T('bnR')
bn = torch.nn.BatchNorm1d(x.shape[1], eps=1e-5).train()
with torch.no_grad():
    bn.weight.copy_(T('bnW')); bn.bias.copy_(T('bnB'))
y = bn(x)
gx, gw, gb = torch.autograd.grad((y * r).sum(), [x, bn.weight, bn.bias])
y0 = torch.nn.BatchNorm1d(x.shape[1], affine=False).train()(x)
out['bn'] = {'y': y.flatten().tolist(), 'y0': y0.flatten().tolist(), 'gx': gx.flatten().tolist(), 'gw': gw.tolist(), 'gb': gb.tolist()}
print(json.dumps(out))
`;

type TorchOut = {
  batch: { loss: number; logits: number[]; gq: number[]; gk: number[] };
  queue: { loss: number; logits: number[]; gq: number[]; gk: number[] };
  kl: { kl: number; ce: number; klw: number; cew: number; gkl: number[]; gklw: number[] };
  bn: { y: number[]; y0: number[]; gx: number[]; gw: number[]; gb: number[] };
};

describe('against PyTorch', () => {
  // Made on first use, after beforeAll has chosen the backend.
  const makeData = (rng = new Rng(17)) => ({
    q: randn(rng, [4, 6]),
    k: randn(rng, [4, 6]),
    queue: l2Normalize(randn(rng, [5, 6])),
    target: randomDistribution(rng, [2, 3, 7], true),
    logits: randn(rng, [2, 3, 7], 2),
    weights: tf.tensor([0.5, 2, 0, 1, 1.5, 0.25], [2, 3]),
    bnX: tf.add(randn(rng, [6, 5], 2), 3),
    bnR: randn(rng, [6, 5]),
    bnW: tf.add(randn(rng, [5], 0.5), 1),
    bnB: randn(rng, [5], 0.5),
  });
  let madeData: ReturnType<typeof makeData> | undefined;
  const getData = () => (madeData ??= makeData());
  const temperature = 0.3;
  let torchOut: TorchOut | undefined;
  const runTorch = (): TorchOut => {
    if (torchOut) return torchOut;
    const data = getData();
    const input: Record<string, unknown> = { temperature };
    for (const [n, t] of Object.entries(data)) input[n] = { shape: t.shape, data: arr(t) };
    const r = spawnSync(PYTHON, ['-c', TORCH_SCRIPT], { input: JSON.stringify(input), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr}`);
    torchOut = JSON.parse(r.stdout) as TorchOut;
    return torchOut;
  };

  it.skipIf(!HAS_TORCH)('infoNce matches torch cross_entropy on the same logits, values and gradients (skipped when torch is not importable in .cache/venv)', () => {
    const want = runTorch();
    const data = getData();
    for (const [mode, opts] of [['batch', { temperature }], ['queue', { temperature, queue: data.queue as tf.Tensor2D }]] as const) {
      const { loss, logits } = infoNce(data.q as tf.Tensor2D, data.k as tf.Tensor2D, opts);
      expect(loss.dataSync()[0], mode).toBeCloseTo(want[mode].loss, 5);
      expect(maxRelDiff(arr(logits), want[mode].logits), mode).toBeLessThan(1e-5);
      const [gq, gk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => infoNce(a as tf.Tensor2D, b as tf.Tensor2D, opts).loss)([data.q, data.k]);
      expect(maxRelDiff(arr(gq!), want[mode].gq), mode).toBeLessThan(1e-4);
      expect(maxRelDiff(arr(gk!), want[mode].gk), mode).toBeLessThan(1e-4);
    }
  });

  it.skipIf(!HAS_TORCH)('klDivergence / softCrossEntropy match F.kl_div(log_softmax) and -sum t log_softmax, with and without weights (skipped when torch is not importable in .cache/venv)', () => {
    const want = runTorch().kl;
    const { target, logits, weights } = getData();
    expect(klDivergence(target, logits).dataSync()[0]).toBeCloseTo(want.kl, 5);
    expect(softCrossEntropy(target, logits).dataSync()[0]).toBeCloseTo(want.ce, 5);
    expect(klDivergence(target, logits, weights).dataSync()[0]).toBeCloseTo(want.klw, 4);
    expect(softCrossEntropy(target, logits, weights).dataSync()[0]).toBeCloseTo(want.cew, 4);
    expect(maxRelDiff(arr(tf.grad((l: tf.Tensor) => klDivergence(target, l))(logits)), want.gkl)).toBeLessThan(1e-5);
    expect(maxRelDiff(arr(tf.grad((l: tf.Tensor) => klDivergence(target, l, weights))(logits)), want.gklw)).toBeLessThan(1e-5);
    // softCrossEntropy has the same gradient (they differ by a constant).
    expect(maxRelDiff(arr(tf.grad((l: tf.Tensor) => softCrossEntropy(target, l, weights))(logits)), want.gklw)).toBeLessThan(1e-5);
  });

  it.skipIf(!HAS_TORCH)('batchNorm matches torch.nn.BatchNorm1d in training mode, values and gradients (skipped when torch is not importable in .cache/venv)', () => {
    const want = runTorch().bn;
    const { bnX, bnR, bnW, bnB } = getData();
    expect(maxRelDiff(arr(batchNorm(bnX as tf.Tensor2D, bnW, bnB)), want.y)).toBeLessThan(1e-5);
    expect(maxRelDiff(arr(batchNorm(bnX as tf.Tensor2D)), want.y0)).toBeLessThan(1e-5);
    const [gx, gw, gb] = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(batchNorm(x as tf.Tensor2D, w, b), bnR)) as tf.Scalar)([bnX, bnW, bnB]);
    expect(maxRelDiff(arr(gx!), want.gx)).toBeLessThan(1e-4);
    expect(maxRelDiff(arr(gw!), want.gw)).toBeLessThan(1e-5);
    expect(maxRelDiff(arr(gb!), want.gb)).toBeLessThan(1e-5);
  });
});
