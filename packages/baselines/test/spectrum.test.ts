import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@maskedssl/core/node';
import { dftMatrices, fft2d, frequencyRadii, frequencyRadiusMask, ifft2d, signedFrequency } from '../src/spectrum.js';

await initBackend({ log: null });

type Grid = number[][];
const randomGrid = (rng: Rng, h: number, w: number): Grid => Array.from({ length: h }, () => Array.from(rng.uniformArray(w, -1, 1)));
const zeros = (h: number, w: number): Grid => Array.from({ length: h }, () => new Array<number>(w).fill(0));

/** The textbook O(N^4) 2-D DFT of a complex grid, in float64: sum_{h,w} x[h][w] exp(sign 2 pi i (uh/H + vw/W)). */
function directDft(re: Grid, im: Grid, sign = -1): { re: Grid; im: Grid } {
  const [h, w] = [re.length, re[0]!.length];
  const out = { re: zeros(h, w), im: zeros(h, w) };
  for (let u = 0; u < h; u++) {
    for (let v = 0; v < w; v++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const a = sign * 2 * Math.PI * ((u * y) / h + (v * x) / w);
          out.re[u]![v]! += re[y]![x]! * Math.cos(a) - im[y]![x]! * Math.sin(a);
          out.im[u]![v]! += re[y]![x]! * Math.sin(a) + im[y]![x]! * Math.cos(a);
        }
      }
    }
  }
  return out;
}

function expectClose(got: tf.Tensor, want: Grid, tol = 1e-4, scale = 1): void {
  const g = got.arraySync() as Grid;
  expect(got.shape).toEqual([want.length, want[0]!.length]);
  want.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(g[i]![j]! - v * scale), `[${i}, ${j}]`).toBeLessThan(tol)));
}

describe('fft2d / ifft2d', () => {
  const rng = new Rng(11);
  const x = randomGrid(rng, 6, 5);
  const y = randomGrid(rng, 6, 5);

  it('matches a direct DFT on a real 6x5 image', () => {
    const want = directDft(x, zeros(6, 5));
    const got = fft2d(tf.tensor2d(x));
    expectClose(got.re, want.re);
    expectClose(got.im, want.im);
    // 'ortho' is the same divided by sqrt(HW).
    const ortho = fft2d(tf.tensor2d(x), 'ortho');
    expectClose(ortho.re, want.re, 1e-5, 1 / Math.sqrt(30));
    expectClose(ortho.im, want.im, 1e-5, 1 / Math.sqrt(30));
  });

  it('matches a direct DFT on a complex 6x5 input, forward and inverse', () => {
    const want = directDft(x, y);
    const got = fft2d({ re: tf.tensor2d(x), im: tf.tensor2d(y) });
    expectClose(got.re, want.re);
    expectClose(got.im, want.im);
    const inv = directDft(x, y, 1);
    const gotInv = ifft2d({ re: tf.tensor2d(x), im: tf.tensor2d(y) });
    expectClose(gotInv.re, inv.re, 1e-5, 1 / 30);
    expectClose(gotInv.im, inv.im, 1e-5, 1 / 30);
  });

  it('round-trips: ifft2d(fft2d(x)) == x, for both norms and complex inputs', () => {
    for (const norm of ['backward', 'ortho'] as const) {
      const back = ifft2d(fft2d(tf.tensor2d(x), norm), norm);
      expectClose(back.re, x, 1e-5);
      expectClose(back.im, zeros(6, 5), 1e-5);
      const c = ifft2d(fft2d({ re: tf.tensor2d(x), im: tf.tensor2d(y) }, norm), norm);
      expectClose(c.re, x, 1e-5);
      expectClose(c.im, y, 1e-5);
    }
  });

  it('transforms the last two axes of a batch independently', () => {
    const batch = tf.tensor4d(new Rng(12).uniformArray(2 * 3 * 4 * 5), [2, 3, 4, 5]);
    const got = fft2d(batch);
    const slices = batch.arraySync();
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 3; c++) {
        const want = directDft(slices[b]![c]!, zeros(4, 5));
        expectClose(tf.squeeze(tf.slice(got.re, [b, c, 0, 0], [1, 1, 4, 5])), want.re);
        expectClose(tf.squeeze(tf.slice(got.im, [b, c, 0, 0], [1, 1, 4, 5])), want.im);
      }
    }
  });

  it('has the gradient of Parseval: d/dx sum |F(x)|^2 = 2 HW x', () => {
    const input = tf.tensor2d(x);
    const grad = tf.grad((t: tf.Tensor) => {
      const f = fft2d(t);
      return tf.add(tf.sum(tf.square(f.re)), tf.sum(tf.square(f.im)));
    })(input);
    expectClose(grad, x, 1e-3, 2 * 30);
  });

  it('refuses mismatched parts and rank-1 tensors', () => {
    expect(() => fft2d({ re: tf.zeros([2, 3]), im: tf.zeros([3, 2]) })).toThrow(/re \[2,3\] and im \[3,2\] differ/);
    expect(() => ifft2d(tf.zeros([4]))).toThrow(/rank >= 2/);
  });

  it('builds symmetric cos / sin DFT matrices with the angle reduced mod n', () => {
    const { cos, sin } = dftMatrices(28);
    for (let j = 0; j < 28; j++) {
      for (let k = 0; k < 28; k++) {
        expect(cos[j * 28 + k]).toBe(cos[k * 28 + j]);
        expect(sin[j * 28 + k]).toBeCloseTo(Math.sin((2 * Math.PI * j * k) / 28), 6);
      }
    }
    const four = dftMatrices(4);
    expect([four.cos[1 * 4 + 2], four.sin[1 * 4 + 1], four.sin[3 * 4 + 3], four.cos[2 * 4 + 2]]).toEqual([-1, 1, 1, 1]); // jk = 2, 1, 9, 4
  });
});

describe('frequency masks', () => {
  it('lays out signed frequencies as fftshift does', () => {
    expect([0, 1, 2, 3, 4, 5].map((k) => signedFrequency(k, 6))).toEqual([0, 1, 2, -3, -2, -1]);
    expect([0, 1, 2, 3, 4].map((k) => signedFrequency(k, 5))).toEqual([0, 1, 2, -2, -1]);
  });

  it("matches MFM's mask: distance from (N//2, N//2) on the fftshift-ed spectrum, then shifted back", () => {
    for (const [n, r] of [[6, 1.5], [5, 2], [28, 2], [28, 5.5]] as const) {
      const c = Math.floor(n / 2);
      // The reference builds it in the shifted layout; unshifted index k sits at shifted (k + N//2) mod N.
      const want = new Float32Array(n * n);
      for (let ky = 0; ky < n; ky++) {
        for (let kx = 0; kx < n; kx++) {
          const [sy, sx] = [(ky + c) % n, (kx + c) % n];
          want[ky * n + kx] = (sx - c) ** 2 + (sy - c) ** 2 < r ** 2 ? 1 : 0;
        }
      }
      expect(Array.from(frequencyRadiusMask(n, n, r)), `n ${n} r ${r}`).toEqual(Array.from(want));
      expect(Array.from(frequencyRadiusMask(n, n, r, true))).toEqual(Array.from(want, (v) => 1 - v));
    }
  });

  it('keeps the 9 lowest frequencies of a 6x6 spectrum at radius 1.5', () => {
    const m = frequencyRadiusMask(6, 6, 1.5);
    const ones = Array.from(m.keys()).filter((i) => m[i] === 1);
    expect(ones).toEqual([0, 1, 5, 6, 7, 11, 30, 31, 35]); // rows and columns {0, 1, 5}: frequencies -1, 0, 1
    expect(frequencyRadii(6, 6)[3 * 6 + 3]).toBeCloseTo(Math.hypot(3, 3), 6);
  });
});
