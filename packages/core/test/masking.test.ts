// Masking primitives (random, complementary, block-wise) and the gather / restore / replace helpers.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, currentBackend, initBackend } from '../src/backend/init-backend.js';
import {
  blockTokenMask,
  complementaryTokenMask,
  gatherTokens,
  randomTokenMask,
  replaceMasked,
  restoreTokens,
  tokenMaskFromIndices,
  type TokenMask,
} from '../src/masking/index.js';
import { Rng } from '../src/util/rng.js';
import { toArray, useBackend } from './helpers.js';

beforeAll(async () => {
  await useBackend();
});

/** A [B, K] tensor as B rows (also when K = 0, where arraySync would give []). */
const rows = (t: tf.Tensor) => {
  const data = Array.from(t.dataSync());
  const [b, k] = t.shape as [number, number];
  return Array.from({ length: b }, (_, i) => data.slice(i * k, (i + 1) * k));
};
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const isAscending = (r: number[]) => r.every((v, i) => i === 0 || r[i - 1]! < v);

/** Checks that a TokenMask is a consistent partition of 0..N-1 per sample, with the given sizes. */
function expectValidMask(m: TokenMask, b: number, n: number, numMasked: number): void {
  expect(m.keep.shape).toEqual([b, n - numMasked]);
  expect(m.masked.shape).toEqual([b, numMasked]);
  expect(m.restore.shape).toEqual([b, n]);
  expect(m.mask.shape).toEqual([b, n]);
  expect([m.keep.dtype, m.masked.dtype, m.restore.dtype, m.mask.dtype]).toEqual(['int32', 'int32', 'int32', 'float32']);
  const keep = rows(m.keep);
  const masked = rows(m.masked);
  const restore = rows(m.restore);
  const mask = rows(m.mask);
  for (let s = 0; s < b; s++) {
    const k = keep[s]!;
    const ms = masked[s]!;
    expect(isAscending(k) && isAscending(ms)).toBe(true);
    expect([...k, ...ms].sort((x, y) => x - y)).toEqual(range(n)); // disjoint and covering
    const order = [...k, ...ms];
    expect(restore[s]!.map((j) => order[j])).toEqual(range(n)); // restore inverts concat(keep, masked)
    expect(mask[s]).toEqual(range(n).map((p) => (ms.includes(p) ? 1 : 0)));
  }
}

/** Masked 4-neighbour pairs per masked position, averaged over the batch (a clustering measure). */
function neighbourScore(mask: number[][], h: number, w: number): number {
  let pairs = 0;
  let count = 0;
  for (const row of mask) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        if (row[i * w + j] !== 1) continue;
        count++;
        if (j + 1 < w && row[i * w + j + 1] === 1) pairs++;
        if (i + 1 < h && row[(i + 1) * w + j] === 1) pairs++;
      }
    }
  }
  return pairs / count;
}

describe('tokenMaskFromIndices', () => {
  it('sorts rows and builds restore and mask (hand case)', () => {
    const keep = Int32Array.from([3, 1]);
    const m = tokenMaskFromIndices(1, 4, keep, Int32Array.from([2, 0]));
    expect(rows(m.keep)).toEqual([[1, 3]]);
    expect(rows(m.masked)).toEqual([[0, 2]]);
    // concat(keep, masked) = [1, 3, 0, 2]: token 0 sits at 2, token 1 at 0, token 2 at 3, token 3 at 1.
    expect(rows(m.restore)).toEqual([[2, 0, 3, 1]]);
    expect(rows(m.mask)).toEqual([[1, 0, 1, 0]]);
    expect(Array.from(keep)).toEqual([3, 1]); // input untouched
    tf.dispose(m);
  });

  it('refuses index sets that do not partition the tokens', () => {
    expect(() => tokenMaskFromIndices(1, 4, Int32Array.from([0, 1]), Int32Array.from([1, 2]))).toThrow(/sample 0: position 1/);
    expect(() => tokenMaskFromIndices(1, 4, Int32Array.from([0]), Int32Array.from([1, 2]))).toThrow(/do not split/);
    expect(() => tokenMaskFromIndices(1, 4, Int32Array.from([0, 4]), Int32Array.from([1, 2]))).toThrow(/position 4/);
  });
});

describe('randomTokenMask', () => {
  it('partitions every sample with exact sizes (ratio and count)', () => {
    const rng = new Rng(1);
    const a = randomTokenMask(rng, 3, 10, 0.75); // keep floor(10 * 0.25) = 2
    expectValidMask(a, 3, 10, 8);
    const b = randomTokenMask(rng, 2, 10, { numMasked: 3 });
    expectValidMask(b, 2, 10, 3);
    const c = randomTokenMask(rng, 2, 49, 0.75); // keep floor(12.25) = 12
    expectValidMask(c, 2, 49, 37);
    const d = randomTokenMask(rng, 1, 196, 0.9); // MAE: keep int(196 * (1 - 0.9)) = 19
    expectValidMask(d, 1, 196, 177);
    const e = randomTokenMask(rng, 2, 5, 0); // nothing masked
    expectValidMask(e, 2, 5, 0);
    tf.dispose([a, b, c, d, e]);
  });

  it('is deterministic under a seed and differs across seeds and samples', () => {
    const draw = (seed: number) => {
      const m = randomTokenMask(new Rng(seed), 4, 49, 0.75);
      const out = rows(m.masked);
      tf.dispose(m);
      return out;
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    const sample = draw(7);
    expect(sample[0]).not.toEqual(sample[1]);
  });

  it('gather(keep) ++ gather(masked), restored, gives back the tokens in order', () => {
    // x[b, n, d] = 100 b + 10 n + d
    const [B, N, D] = [2, 5, 2];
    const value = (i: number) => 100 * Math.floor(i / (N * D)) + 10 * (Math.floor(i / D) % N) + (i % D);
    const x = tf.tensor3d(Float32Array.from({ length: B * N * D }, (_, i) => value(i)), [B, N, D]);
    const m = randomTokenMask(new Rng(3), B, N, { numMasked: 3 });
    const shuffled = tf.concat([gatherTokens(x, m.keep), gatherTokens(x, m.masked)], 1);
    const back = restoreTokens(shuffled, m.restore);
    expect(back.arraySync()).toEqual(x.arraySync());
    // The kept tokens are the ones the indices name.
    const kept = gatherTokens(x, m.keep).arraySync() as number[][][];
    rows(m.keep).forEach((r, b) => r.forEach((n, k) => expect(kept[b]![k]).toEqual([100 * b + 10 * n, 100 * b + 10 * n + 1])));
    tf.dispose([x, m, shuffled, back]);
  });

  it('names bad arguments', () => {
    const rng = new Rng(0);
    expect(() => randomTokenMask(rng, 1, 10, 1.5)).toThrow(/maskRatio must be in \[0, 1\]/);
    expect(() => randomTokenMask(rng, 1, 10, { numMasked: 11 })).toThrow(/numMasked must be an integer in \[0, numTokens = 10\]/);
    expect(() => randomTokenMask(rng, 0, 10, 0.5)).toThrow(/batchSize/);
    expect(() => randomTokenMask(rng, 1, 0, 0.5)).toThrow(/numTokens/);
  });
});

describe('complementaryTokenMask', () => {
  function check(n: number, v1: number, v2: number, m: number, batch = 4, seed = 5) {
    const cm = complementaryTokenMask(new Rng(seed), batch, n, { numVisible1: v1, numVisible2: v2, numMasked: m });
    expect(cm.visible[0].shape).toEqual([batch, v1]);
    expect(cm.visible[1].shape).toEqual([batch, v2]);
    expect(cm.masked.shape).toEqual([batch, m]);
    const [a, b, c] = [rows(cm.visible[0]), rows(cm.visible[1]), rows(cm.masked)];
    for (let s = 0; s < batch; s++) {
      const all = [...a[s]!, ...b[s]!, ...c[s]!];
      expect(new Set(all).size).toBe(v1 + v2 + m); // pairwise disjoint
      expect(all.every((p) => Number.isInteger(p) && p >= 0 && p < n)).toBe(true);
      expect(isAscending(a[s]!) && isAscending(b[s]!) && isAscending(c[s]!)).toBe(true);
    }
    expect(new Set(c.map((r) => r.join())).size).toBeGreaterThan(1); // M differs across samples
    tf.dispose(cm);
    return { a, b, c };
  }

  it('gives disjoint visible sets and one masked set at the reference sizes (L = 196)', () => {
    // 0.55 / 0.35 and 0.75: |V1| = 88, |M| = 127 - 88 = 39, |V2| = 49; 20 positions unused.
    check(196, 88, 49, 39);
  });

  it('works at 49 tokens (7 x 7), also when the sets cover every token', () => {
    check(49, 22, 12, 9); // floor(49 * 0.45), floor(49 * 0.65) - 22, floor(49 * 0.25)
    const { a, b, c } = check(49, 20, 20, 9, 3);
    for (let s = 0; s < 3; s++) expect([...a[s]!, ...b[s]!, ...c[s]!].sort((x, y) => x - y)).toEqual(range(49));
  });

  it('is deterministic under a seed and differs across seeds', () => {
    expect(check(49, 22, 12, 9, 2, 11)).toEqual(check(49, 22, 12, 9, 2, 11));
    expect(check(49, 22, 12, 9, 2, 11)).not.toEqual(check(49, 22, 12, 9, 2, 12));
  });

  it('validates the sizes, naming the fields', () => {
    const rng = new Rng(0);
    expect(() => complementaryTokenMask(rng, 1, 49, { numVisible1: 30, numVisible2: 12, numMasked: 9 })).toThrow(
      /numVisible1 \+ numVisible2 \+ numMasked = 30 \+ 12 \+ 9 = 51 exceeds numTokens = 49/,
    );
    expect(() => complementaryTokenMask(rng, 1, 49, { numVisible1: 10, numVisible2: 0, numMasked: 9 })).toThrow(/numVisible2 must be an integer >= 1/);
    expect(() => complementaryTokenMask(rng, 1, 49, { numVisible1: 1.5, numVisible2: 2, numMasked: 9 })).toThrow(/numVisible1 must be an integer >= 1/);
    expect(() => complementaryTokenMask(rng, 1, 49, { numVisible1: 10, numVisible2: 2, numMasked: -1 })).toThrow(/numMasked must be an integer >= 0/);
  });
});

describe('blockTokenMask', () => {
  it('masks exactly numMasked positions, also when blocks stop short and it tops up', () => {
    const rng = new Rng(2);
    const cases: [number, number, number, object][] = [
      [14, 14, 75, {}], // BEiT's setting
      [7, 7, 24, {}],
      [3, 3, 8, {}], // blocks are at most 2 x 2 here: needs the top-up
      [7, 7, 40, { minBlock: 30, attempts: 1 }],
      [7, 7, 0, {}],
    ];
    for (const [h, w, k, opts] of cases) {
      const m = blockTokenMask(rng, 6, [h, w], { numMasked: k }, opts);
      expectValidMask(m, 6, h * w, k);
      tf.dispose(m);
    }
    const r = blockTokenMask(rng, 2, [14, 14], 0.4); // keep floor(196 * 0.6) = 117
    expectValidMask(r, 2, 196, 79);
    tf.dispose(r);
  });

  it('draws one rectangle for a small one-block target', () => {
    const bbox = (row: number[], w: number) => {
      const cells = row.flatMap((v, p) => (v === 1 ? [[Math.floor(p / w), p % w] as const] : []));
      const is = cells.map((c) => c[0]);
      const js = cells.map((c) => c[1]);
      return { h: Math.max(...is) - Math.min(...is) + 1, w: Math.max(...js) - Math.min(...js) + 1, n: cells.length };
    };
    // Area 4 with aspect 1: a 2 x 2 square.
    const sq = blockTokenMask(new Rng(4), 16, [7, 7], { numMasked: 4 }, { minAspect: 1, maxAspect: 1 });
    for (const row of rows(sq.mask)) expect(bbox(row, 7)).toEqual({ h: 2, w: 2, n: 4 });
    // Area 6 with aspect h / w = 1.5: h = round(3) rows, w = round(2) columns.
    const rect = blockTokenMask(new Rng(4), 16, [7, 7], { numMasked: 6 }, { minBlock: 6, minAspect: 1.5, maxAspect: 1.5 });
    for (const row of rows(rect.mask)) expect(bbox(row, 7)).toEqual({ h: 3, w: 2, n: 6 });
    tf.dispose([sq, rect]);
  });

  it('is far more clustered than random masking, deterministic under a seed', () => {
    const block = blockTokenMask(new Rng(9), 32, [14, 14], { numMasked: 75 });
    const random = randomTokenMask(new Rng(9), 32, 196, { numMasked: 75 });
    const blockScore = neighbourScore(rows(block.mask), 14, 14);
    const randomScore = neighbourScore(rows(random.mask), 14, 14);
    expect(blockScore).toBeGreaterThan(1.3); // about 1.6 here, about 0.7 for random
    expect(randomScore).toBeLessThan(1);
    const again = blockTokenMask(new Rng(9), 32, [14, 14], { numMasked: 75 });
    const other = blockTokenMask(new Rng(10), 32, [14, 14], { numMasked: 75 });
    expect(rows(again.masked)).toEqual(rows(block.masked));
    expect(rows(other.masked)).not.toEqual(rows(block.masked));
    tf.dispose([block, random, again, other]);
  });

  it('names bad arguments', () => {
    const rng = new Rng(0);
    expect(() => blockTokenMask(rng, 1, [0, 7], 0.5)).toThrow(/gridSize/);
    expect(() => blockTokenMask(rng, 1, [7, 7], { numMasked: 50 })).toThrow(/numMasked/);
    expect(() => blockTokenMask(rng, 1, [7, 7], 0.5, { minAspect: 2, maxAspect: 1 })).toThrow(/minAspect/);
    expect(() => blockTokenMask(rng, 1, [7, 7], 0.5, { attempts: 0 })).toThrow(/attempts/);
  });
});

describe('gatherTokens', () => {
  // x[b, n, :] = [10 b + n, -(10 b + n)]
  const xs = [
    [[0, -0], [1, -1], [2, -2]],
    [[10, -10], [11, -11], [12, -12]],
  ];
  const idxs = [[2, 0], [1, 1]]; // sample 1 picks token 1 twice
  const ws = [
    [[1, 2], [3, 4]],
    [[5, 6], [7, 8]],
  ];
  // d/dx sum(gather(x) * w): sample 0 token 2 gets w[0,0], token 0 gets w[0,1]; sample 1 token 1 gets w[1,0] + w[1,1].
  const expectedGrad = [
    [[3, 4], [0, 0], [1, 2]],
    [[0, 0], [12, 14], [0, 0]],
  ];

  // Read asynchronously: WebGPU in Node cannot read synchronously.
  async function valueAndGrad() {
    const x = tf.tensor3d(xs);
    const idx = tf.tensor2d(idxs, undefined, 'int32');
    const w = tf.tensor3d(ws);
    const gathered = gatherTokens(x, idx);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherTokens(t as tf.Tensor3D, idx), w)))(x);
    const out = { value: await gathered.array(), grad: await grad.array() };
    tf.dispose([x, idx, w, gathered, grad]);
    return out;
  }

  it('gathers per sample and has the hand-computed gradient (repeated indices summed)', async () => {
    const { value, grad } = await valueAndGrad();
    expect(value).toEqual([
      [[2, -2], [0, -0]],
      [[11, -11], [11, -11]],
    ]);
    expect(grad).toEqual(expectedGrad);
  });

  it('agrees with a finite-difference check on random values', () => {
    const rng = new Rng(1);
    const x = tf.tensor3d(rng.normalArray(2 * 4 * 3), [2, 4, 3]);
    const w = tf.tensor3d(rng.normalArray(2 * 3 * 3), [2, 3, 3]);
    const idx = tf.tensor2d([[3, 0, 3], [1, 2, 0]], undefined, 'int32');
    const f = (t: tf.Tensor) => tf.sum(tf.square(tf.mul(gatherTokens(t as tf.Tensor3D, idx), w)));
    const g = toArray(tf.grad(f)(x));
    const base = x.arraySync() as number[][][];
    const eps = 1e-2;
    for (const [b, n, d] of [[0, 3, 1], [0, 0, 2], [1, 2, 0], [1, 3, 1]] as const) {
      const plus = base.map((r) => r.map((c) => c.slice()));
      const minus = base.map((r) => r.map((c) => c.slice()));
      plus[b]![n]![d]! += eps;
      minus[b]![n]![d]! -= eps;
      const fd = tf.tidy(() => (f(tf.tensor3d(plus)).dataSync()[0]! - f(tf.tensor3d(minus)).dataSync()[0]!) / (2 * eps));
      expect(g[b * 12 + n * 3 + d]!).toBeCloseTo(fd, 2);
    }
    tf.dispose([x, w, idx]);
  });

  it('has the same gradient on every available backend (wasm has no UnsortedSegmentSum)', async () => {
    const original = currentBackend()?.name ?? 'auto';
    try {
      for (const name of await availableBackends()) {
        await initBackend({ prefer: name, log: null });
        expect((await valueAndGrad()).grad, name).toEqual(expectedGrad);
      }
    } finally {
      await initBackend({ prefer: original, log: null });
    }
  });

  it('checks shapes and dtypes', () => {
    const x = tf.zeros([2, 3, 4]) as tf.Tensor3D;
    const bad = tf.zeros([3, 2], 'int32') as tf.Tensor2D;
    const float = tf.zeros([2, 2]) as tf.Tensor2D;
    expect(() => gatherTokens(x, bad)).toThrow(/gatherTokens: indices must be \[B = 2, K\]/);
    expect(() => gatherTokens(x, float)).toThrow(/int32/);
    expect(() => restoreTokens(tf.zeros([2, 3]) as unknown as tf.Tensor3D, bad)).toThrow(/restoreTokens: x must be \[B, N, D\]/);
    tf.dispose([x, bad, float]);
  });
});

describe('replaceMasked', () => {
  it('substitutes the token at masked positions, with hand-computed gradients', () => {
    const x = tf.tensor3d([[[1, 2], [3, 4], [5, 6]]]);
    const mask = tf.tensor2d([[0, 1, 0]]);
    const token = tf.tensor1d([-1, -2]);
    expect(replaceMasked(x, mask, token).arraySync()).toEqual([[[1, 2], [-1, -2], [5, 6]]]);
    const token3 = tf.reshape(token, [1, 1, 2]);
    expect(replaceMasked(x, mask, token3).arraySync()).toEqual([[[1, 2], [-1, -2], [5, 6]]]);
    // A fractional mask blends: 0.25 * x + 0.75 * token.
    expect(replaceMasked(x, tf.tensor2d([[0.75, 0, 0]]), token).arraySync()).toEqual([[[-0.5, -1], [3, 4], [5, 6]]]);

    const w = tf.tensor3d([[[1, 2], [3, 4], [5, 6]]]);
    const [gx, gt] = tf.grads((a: tf.Tensor, t: tf.Tensor) => tf.sum(tf.mul(replaceMasked(a as tf.Tensor3D, mask, t), w)))([x, token]);
    expect(gx!.arraySync()).toEqual([[[1, 2], [0, 0], [5, 6]]]); // w * (1 - m)
    expect(gt!.arraySync()).toEqual([3, 4]); // sum over positions of w * m
    tf.dispose([x, mask, token, token3, w, gx!, gt!]);
  });

  it('checks shapes', () => {
    const x = tf.zeros([1, 3, 2]) as tf.Tensor3D;
    const mask = tf.zeros([1, 3]) as tf.Tensor2D;
    expect(() => replaceMasked(x, tf.zeros([1, 2]) as tf.Tensor2D, tf.zeros([2]))).toThrow(/mask must be \[1, 3\]/);
    expect(() => replaceMasked(x, mask, tf.zeros([3]))).toThrow(/token must be \[2\] or \[1, 1, 2\]/);
    tf.dispose([x, mask]);
  });
});

describe('memory', () => {
  it('20 mask + gather + replace calls leave no tensors behind (after disposing what the caller owns)', () => {
    const rng = new Rng(0);
    const x = tf.randomNormal([2, 49, 8]) as tf.Tensor3D;
    const token = tf.zeros([8]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const m = i % 2 === 0 ? randomTokenMask(rng, 2, 49, 0.75) : blockTokenMask(rng, 2, [7, 7], 0.4);
      const cm = complementaryTokenMask(rng, 2, 49, { numVisible1: 22, numVisible2: 12, numMasked: 9 });
      const kept = gatherTokens(x, m.keep);
      const back = tf.tidy(() => restoreTokens(tf.concat([kept, gatherTokens(x, m.masked)], 1), m.restore));
      const filled = replaceMasked(x, m.mask, token);
      const vis = gatherTokens(x, cm.visible[0]);
      const grad = tf.grad((t: tf.Tensor) => tf.sum(gatherTokens(t as tf.Tensor3D, m.keep)))(x);
      tf.dispose([m, cm, kept, back, filled, vis, grad]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, token]);
  });
});
