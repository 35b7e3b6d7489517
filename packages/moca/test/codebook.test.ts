// The online codebook by hand: soft assignments and the dist_norm statistic on a 3-word codebook,
// the border-cropped L1-normalised bag of words, perplexity, the queue's wrap-around, new-word
// selection, and the dist_norm sequence over three steps (a step uses the previous step's value).
import * as tf from '@tensorflow/tfjs-core';
import { ringWrite, initBackend, Rng } from '@maskedssl/core/node';
import { describe, expect, it } from 'vitest';
import {
  assignWords,
  bagOfWords,
  codebookPerplexity,
  emaDistNorm,
  gatherNewWords,
  initialWords,
  interiorPositions,
  newWordIndices,
  OnlineCodebook,
} from '../src/index.js';

await initBackend({ log: null });

const arr = (t: tf.Tensor) => Array.from(t.dataSync());
const softmax = (z: number[]) => {
  const e = z.map(Math.exp);
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('soft assignment on a 3-word codebook', () => {
  // Words e1, e2, e3; tokens t1 = (2, 0, 0) (parallel to e1) and t2 = (1, 1, 0) (between e1 and e2).
  const words = () => tf.tensor2d([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3]);
  const tokens = () => tf.tensor3d([2, 0, 0, 1, 1, 0], [1, 2, 3]);

  it('codes = softmax(-(invDelta / dist_norm_prev) * d) with d = -cos, and the dist_norm statistic', () => {
    tf.tidy(() => {
      const r = assignWords(tokens(), words(), 10, tf.tensor1d([0.5]));
      const s = Math.SQRT1_2;
      // t1: cos = (1, 0, 0), t2: cos = (s, s, 0); scale 10 / 0.5 = 20.
      const expected = [...softmax([20, 0, 0]), ...softmax([20 * s, 20 * s, 0])];
      arr(r.codes).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
      // mean_k d - min_k d: t1: -1/3 + 1 = 2/3; t2: -2s/3 + s = s/3; their mean.
      expect(r.distStat.dataSync()[0]).toBeCloseTo((2 / 3 + s / 3) / 2, 6);
      // inv_delta 1 with dist_norm_prev 2: scale 1/2.
      const soft = assignWords(tokens(), words(), 1, tf.tensor1d([2]));
      const expectedSoft = [...softmax([0.5, 0, 0]), ...softmax([s / 2, s / 2, 0])];
      arr(soft.codes).forEach((v, i) => expect(v).toBeCloseTo(expectedSoft[i]!, 6));
    });
  });

  it('bag of words: mean code over the interior (border cropped), L1-normalised', () => {
    tf.tidy(() => {
      // A 4x4 grid, skipOffset 1: interior positions 5, 6, 9, 10. Codes deliberately not normalised.
      expect(Array.from(interiorPositions(4, 1))).toEqual([5, 6, 9, 10]);
      const codes = new Float32Array(16 * 3).fill(100); // border: must not count
      const interior: Record<number, number[]> = { 5: [1, 0, 0], 6: [0, 2, 0], 9: [0, 0, 1], 10: [1, 1, 0] };
      for (const [p, c] of Object.entries(interior)) codes.set(c, Number(p) * 3);
      const bow = bagOfWords(tf.tensor3d(codes, [1, 16, 3]), 4, 1);
      // mean = (2, 3, 1) / 4, L1-normalised = (2, 3, 1) / 6.
      arr(bow).forEach((v, i) => expect(v).toBeCloseTo([2 / 6, 3 / 6, 1 / 6][i]!, 6));
      // A 3x3 grid keeps only its centre.
      expect(Array.from(interiorPositions(3, 1))).toEqual([4]);
      expect(() => interiorPositions(2, 1)).toThrow(/no interior/);
    });
  });

  it('perplexity of the batch-mean code: exp(entropy)', () => {
    tf.tidy(() => {
      expect(codebookPerplexity(tf.tensor2d([1, 0, 0, 0, 1, 0], [2, 3])).dataSync()[0]).toBeCloseTo(2, 5);
      expect(codebookPerplexity(tf.tensor2d([1, 0, 0, 1, 0, 0], [2, 3])).dataSync()[0]).toBeCloseTo(1, 5);
      expect(codebookPerplexity(tf.fill([4, 5], 0.2)).dataSync()[0]).toBeCloseTo(5, 4);
    });
  });
});

describe('the queue', () => {
  it('initial words are l2norm(max(0, N(0, 1))): non-negative unit rows', () => {
    const w = initialWords(new Rng(3), 8, 5);
    expect(Array.from(w).every((v) => v >= 0)).toBe(true);
    for (let k = 0; k < 8; k++) {
      const row = w.subarray(k * 5, (k + 1) * 5);
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    }
  });

  it('wraps around: each update overwrites the oldest words', () => {
    const cb = new OnlineCodebook(new Rng(1), 6, 2);
    const initial = arr(cb.words);
    const chunk = (v: number) => tf.tensor2d([v, v, v + 0.5, v + 0.5], [2, 2]);
    const stats = tf.tensor1d([0.5, 0.5]);
    const pointers: number[] = [];
    for (const v of [1, 2, 3, 4]) {
      const c = chunk(v);
      cb.update(c, stats);
      c.dispose();
      pointers.push(cb.pointer);
    }
    expect(pointers).toEqual([2, 4, 0, 2]);
    // After 4 chunks of 2 in a queue of 6: rows 0-1 hold chunk 4 (overwrote chunk 1), rows 2-5 chunks 2 and 3.
    expect(arr(cb.words)).toEqual([4, 4, 4.5, 4.5, 2, 2, 2.5, 2.5, 3, 3, 3.5, 3.5]);
    expect(initial).not.toEqual(arr(cb.words));
    tf.tidy(() => {
      expect(() => ringWrite(tf.zeros([6, 2]), tf.zeros([4, 2]), 4)).toThrow(/does not fit/);
    });
    stats.dispose();
    cb.dispose();
  });

  it('new words: distinct images, interior tokens only, L2-normalised', () => {
    const rng = new Rng(5);
    const interior = interiorPositions(7, 1);
    const idx = newWordIndices(rng, 40, 49, 32, interior);
    const images = Array.from(idx, (i) => Math.floor(i / 49));
    expect(new Set(images).size).toBe(32);
    expect(Array.from(idx).every((i) => interior.includes(i % 49))).toBe(true);
    expect(() => newWordIndices(rng, 8, 49, 16, interior)).toThrow(/distinct images/);
    tf.tidy(() => {
      const tokens = tf.tensor3d([3, 4, 0, 0, 0, 2, 1, 1], [2, 2, 2]);
      const w = gatherNewWords(tokens, Int32Array.from([0, 3]));
      arr(w).forEach((v, i) => expect(v).toBeCloseTo([0.6, 0.8, Math.SQRT1_2, Math.SQRT1_2][i]!, 6));
    });
  });
});

describe('dist_norm', () => {
  it('EMA 0.99 from 0.5, one update per teacher view; a step uses the value from the end of the previous step', () => {
    const cb = new OnlineCodebook(new Rng(2), 4, 3);
    const stepStats = [
      [0.2, 0.4],
      [0.3, 0.1],
      [0.6, 0.5],
    ];
    let dn = 0.5;
    const used: number[] = [];
    const token = tf.tensor3d([1, 0.5, 0.25], [1, 1, 3]);
    for (const [a, b] of stepStats) {
      // The codes of this step use dist_norm_prev...
      used.push(cb.distNormPrev.dataSync()[0]!);
      const codes = tf.tidy(() => arr(cb.assign(token, 10).codes));
      const expected = tf.tidy(() => arr(assignWords(token, cb.words as tf.Tensor2D, 10, tf.tensor1d([used.at(-1)!])).codes));
      codes.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
      // ...and the end of the step moves dist_norm twice, then copies it into dist_norm_prev.
      dn = 0.99 * (0.99 * dn + 0.01 * a!) + 0.01 * b!;
      const fresh = tf.tidy(() => tf.tensor2d([0, 0, 1], [1, 3]));
      const stats = tf.tensor1d([a!, b!]);
      cb.update(fresh, stats);
      tf.dispose([fresh, stats]);
      expect(cb.distNorm.dataSync()[0]).toBeCloseTo(dn, 6);
      expect(cb.distNormPrev.dataSync()[0]).toBeCloseTo(dn, 6);
    }
    const d1 = 0.99 * (0.99 * 0.5 + 0.002) + 0.004;
    const d2 = 0.99 * (0.99 * d1 + 0.003) + 0.001;
    expect(used[0]).toBe(0.5);
    expect(used[1]).toBeCloseTo(d1, 6);
    expect(used[2]).toBeCloseTo(d2, 6);
    tf.tidy(() => {
      expect(emaDistNorm(tf.tensor1d([0.5]), tf.tensor1d([1]), 0.5).dataSync()[0]).toBeCloseTo(0.75, 6);
    });
    token.dispose();
    cb.dispose();
  });
});
