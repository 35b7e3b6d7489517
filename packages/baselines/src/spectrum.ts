// The 2-D discrete Fourier transform over the last two axes of a tensor, as real matrix products with
// precomputed cos / sin DFT matrices (F = W_H X W_W, W[j, k] = exp(-2 pi i jk / n) = C - iS), so it
// has gradients on every backend (tf.spectral's complex FFT does not reliably). A complex tensor is a
// pair of real tensors. O(n^3) instead of O(n^2 log n), which is nothing at 28x28. Plus the circular
// frequency masks of MFM, built in the unshifted DFT layout (DC at index 0).
import * as tf from '@tensorflow/tfjs-core';

/** A complex tensor as its real and imaginary parts, of the same shape. */
export type ComplexPair = { re: tf.Tensor; im: tf.Tensor };
/** 'backward' (torch's default): no scale forward, 1/(HW) inverse; 'ortho': 1/sqrt(HW) both ways. */
export type FftNorm = 'backward' | 'ortho';

const matrices = new Map<number, { cos: Float32Array; sin: Float32Array }>();

/** cos(2 pi jk / n) and sin(2 pi jk / n), [n, n] row-major (symmetric); jk is reduced mod n first. */
export function dftMatrices(n: number): { cos: Float32Array; sin: Float32Array } {
  if (!Number.isInteger(n) || n < 1) throw new Error(`dftMatrices: n must be an integer >= 1, got ${n}`);
  let m = matrices.get(n);
  if (!m) {
    m = { cos: new Float32Array(n * n), sin: new Float32Array(n * n) };
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) {
        const angle = (2 * Math.PI * ((j * k) % n)) / n;
        m.cos[j * n + k] = Math.cos(angle);
        m.sin[j * n + k] = Math.sin(angle);
      }
    }
    matrices.set(n, m);
  }
  return m;
}

/** x @ M along the last axis, M [n, n]. */
function alongLast(x: tf.Tensor, m: tf.Tensor2D): tf.Tensor {
  const n = x.shape[x.rank - 1]!;
  return tf.reshape(tf.matMul(tf.reshape(x, [-1, n]), m), x.shape);
}

/**
 * The 1-D DFT along the last axis (axis -1) or the one before it (-2); `sign` -1 forward, +1 inverse
 * (unscaled). With W = C + sign * iS: (a + ib) W = (aC - sign bS) + i(bC + sign aS).
 */
function dft1d(re: tf.Tensor, im: tf.Tensor | null, axis: -1 | -2, sign: -1 | 1): ComplexPair {
  const r = re.rank;
  const perm = [...Array(r).keys()].map((i) => (i === r - 1 ? r - 2 : i === r - 2 ? r - 1 : i));
  const swap = (t: tf.Tensor) => (axis === -1 ? t : tf.transpose(t, perm));
  const a = swap(re);
  const b = im && swap(im);
  const n = a.shape[r - 1]!;
  const { cos, sin } = dftMatrices(n);
  const c = tf.tensor2d(cos, [n, n]);
  const s = tf.tensor2d(sin, [n, n]);
  const aS = alongLast(a, s);
  let outRe = alongLast(a, c);
  let outIm = sign === 1 ? aS : tf.neg(aS);
  if (b) {
    const bS = alongLast(b, s);
    outRe = sign === 1 ? tf.sub(outRe, bS) : tf.add(outRe, bS);
    outIm = tf.add(outIm, alongLast(b, c));
  }
  return { re: swap(outRe), im: swap(outIm) };
}

function check(fn: string, x: tf.Tensor | ComplexPair): { re: tf.Tensor; im: tf.Tensor | null } {
  const { re, im } = x instanceof tf.Tensor ? { re: x, im: null } : x;
  if (re.rank < 2) throw new Error(`${fn}: needs a tensor of rank >= 2, got shape [${re.shape}]`);
  if (im && im.shape.join() !== re.shape.join()) throw new Error(`${fn}: re [${re.shape}] and im [${im.shape}] differ`);
  return { re, im };
}

/**
 * The 2-D DFT over the last two axes: F[u, v] = sum_{h, w} x[h, w] exp(-2 pi i (uh/H + vw/W)) (times
 * 1/sqrt(HW) for 'ortho'), as torch.fft.fft2. `x` is real (a tensor) or complex (a pair). New tensors.
 */
export function fft2d(x: tf.Tensor | ComplexPair, norm: FftNorm = 'backward'): ComplexPair {
  const { re, im } = check('fft2d', x);
  return tf.tidy(() => {
    const rows = dft1d(re, im, -1, -1);
    const out = dft1d(rows.re, rows.im, -2, -1);
    if (norm === 'backward') return out;
    const scale = 1 / Math.sqrt(re.shape[re.rank - 1]! * re.shape[re.rank - 2]!);
    return { re: tf.mul(out.re, scale), im: tf.mul(out.im, scale) };
  });
}

/** The inverse of fft2d for the same `norm` (torch.fft.ifft2): a complex pair; take `.re` for real signals. */
export function ifft2d(x: tf.Tensor | ComplexPair, norm: FftNorm = 'backward'): ComplexPair {
  const { re, im } = check('ifft2d', x);
  return tf.tidy(() => {
    const rows = dft1d(re, im, -1, 1);
    const out = dft1d(rows.re, rows.im, -2, 1);
    const hw = re.shape[re.rank - 1]! * re.shape[re.rank - 2]!;
    const scale = norm === 'backward' ? 1 / hw : 1 / Math.sqrt(hw);
    return { re: tf.mul(out.re, scale), im: tf.mul(out.im, scale) };
  });
}

/** The signed frequency of index k of an n-point DFT, as torch.fft.fftshift lays it out: -floor(n/2) .. ceil(n/2) - 1. */
export function signedFrequency(k: number, n: number): number {
  return k < n - Math.floor(n / 2) ? k : k - n;
}

/**
 * Distance of every frequency of an [h, w] spectrum from DC, in index units, row-major in the
 * unshifted layout: sqrt(fy^2 + fx^2) with signed frequencies. On a square image this is MFM's
 * distance from the centre (N//2, N//2) of the fftshift-ed spectrum.
 */
export function frequencyRadii(h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = Math.hypot(signedFrequency(y, h), signedFrequency(x, w));
  return out;
}

/**
 * A circular frequency mask [h * w] (row-major, unshifted layout): 1 at the low frequencies, distance
 * < radius (what a low-pass filter of that radius keeps), 0 elsewhere; `high` flips it.
 */
export function frequencyRadiusMask(h: number, w: number, radius: number, high = false): Float32Array {
  return frequencyRadii(h, w).map((d) => ((d < radius) !== high ? 1 : 0));
}
