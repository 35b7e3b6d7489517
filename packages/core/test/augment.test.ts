// Batched augmentations: hand-computed cases for every op, [0, 1] ranges, seeded determinism,
// pipeline validation messages, presets, tensor leaks, and the same seed on this backend vs cpu.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it, vi } from 'vitest';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyPipeline,
  asymmetricPair,
  augmentView,
  colorJitter,
  gaussianBlur,
  gaussianKernel1d,
  grayscale,
  horizontalFlip,
  IMAGENET_NORMALIZE,
  normalize,
  parsePipeline,
  randomGaussianBlur,
  randomHorizontalFlip,
  randomResizedCrop,
  resizedCrop,
  rgbToHsv,
  sampleResizedCropBox,
  simpleCropFlip,
  solarize,
  twoViews,
  type AugmentStepInput,
} from '../src/augment/index.js';
import { Rng } from '../src/util/rng.js';
import { toArray, useBackend } from './helpers.js';

const backend = await useBackend();

const randomImages = (seed: number, shape: [number, number, number, number]) =>
  tf.tensor4d(new Rng(seed).uniformArray(shape[0] * shape[1] * shape[2] * shape[3]), shape);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const inUnitRange = (t: tf.Tensor) => toArray(t).every((v) => v >= 0 && v <= 1);
/** Runs f and disposes everything it made, returning its output's data. */
const data = (f: () => tf.Tensor) => tf.tidy(() => toArray(f()).slice());

describe('horizontal flip', () => {
  it('mirrors a 1x2x3x1 image along W', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    expect(Array.from(data(() => horizontalFlip(x, [true])))).toEqual([3, 2, 1, 6, 5, 4]);
    expect(Array.from(data(() => horizontalFlip(x, [false])))).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('flips only the selected samples; p = 0 and p = 1 are never and always', () => {
    const x = tf.tensor4d([1, 2, 3, 4], [2, 1, 2, 1]);
    expect(Array.from(data(() => horizontalFlip(x, [false, true])))).toEqual([1, 2, 4, 3]);
    expect(Array.from(data(() => randomHorizontalFlip(x, { p: 0 }, new Rng(1))))).toEqual([1, 2, 3, 4]);
    expect(Array.from(data(() => randomHorizontalFlip(x, { p: 1 }, new Rng(1))))).toEqual([2, 1, 4, 3]);
  });
});

describe('brightness, contrast, saturation, hue', () => {
  it('brightness multiplies a constant image by the factor and clips', () => {
    const x = tf.fill([2, 2, 2, 1], 0.4) as tf.Tensor4D;
    const out = data(() => adjustBrightness(x, [1.5, 3]));
    expect(out.slice(0, 4).every((v) => Math.abs(v - 0.6) < 1e-6)).toBe(true);
    expect(out.slice(4).every((v) => v === 1)).toBe(true);
  });
  it('contrast blends a two-pixel image with its mean', () => {
    // Gray: pixels 0.2 and 0.6, mean 0.4; factor 0.5 -> 0.4 + 0.5 * (x - 0.4) = 0.3, 0.5.
    const g = tf.tensor4d([0.2, 0.6], [1, 1, 2, 1]);
    expect(maxAbsDiff(data(() => adjustContrast(g, [0.5])), [0.3, 0.5])).toBeLessThan(1e-6);
    expect(maxAbsDiff(data(() => adjustContrast(g, [0])), [0.4, 0.4])).toBeLessThan(1e-6);
    // RGB: the mean is that of the luma image: pixels (1,0,0) and (0,0,1) -> lumas 0.2989, 0.114.
    const rgb = tf.tensor4d([1, 0, 0, 0, 0, 1], [1, 1, 2, 3]);
    const m = (0.2989 + 0.114) / 2;
    const expected = [1, 0, 0, 0, 0, 1].map((v) => Math.min(1, Math.max(0, 2 * v - m)));
    expect(maxAbsDiff(data(() => adjustContrast(rgb, [2])), expected)).toBeLessThan(1e-6);
  });
  it('saturation 0 and grayscale give the luma on all channels; saturation 1 is the identity', () => {
    const x = tf.tensor4d([0.2, 0.4, 0.8], [1, 1, 1, 3]);
    const luma = 0.2989 * 0.2 + 0.587 * 0.4 + 0.114 * 0.8;
    expect(maxAbsDiff(data(() => adjustSaturation(x, [0])), [luma, luma, luma])).toBeLessThan(1e-6);
    expect(maxAbsDiff(data(() => grayscale(x, [true])), [luma, luma, luma])).toBeLessThan(1e-6);
    expect(Array.from(data(() => adjustSaturation(x, [1])))).toEqual(Array.from(toArray(x)));
  });
  it('rgbToHsv matches a hand value and hue shifts rotate primaries', () => {
    // (0.2, 0.4, 0.8): v = 0.8, s = 0.6 / 0.8, blue is max: h = (4 + gc - rc) / 6 with gc = 2/3, rc = 1.
    const hsv = data(() => rgbToHsv(tf.tensor4d([0.2, 0.4, 0.8], [1, 1, 1, 3])));
    expect(maxAbsDiff(hsv, [(4 + 2 / 3 - 1) / 6, 0.75, 0.8])).toBeLessThan(1e-6);
    const red = tf.tensor4d([1, 0, 0, 1, 0, 0, 1, 0, 0, 0.5, 0.5, 0.5], [4, 1, 1, 3]);
    const out = data(() => adjustHue(red, [1 / 3, -1 / 3, 0.5, 0.25]));
    // red -> green, red -> blue, red -> cyan; a gray pixel has no hue and stays.
    expect(maxAbsDiff(out, [0, 1, 0, 0, 0, 1, 0, 1, 1, 0.5, 0.5, 0.5])).toBeLessThan(1e-5);
  });
  it('hue shift 0 is bit-identical and +s then -s round-trips', () => {
    const x = randomImages(3, [2, 4, 4, 3]);
    expect(Array.from(data(() => adjustHue(x, [0, 0])))).toEqual(Array.from(toArray(x)));
    const back = data(() => adjustHue(adjustHue(x, [0.2, -0.45]), [-0.2, 0.45]));
    expect(maxAbsDiff(back, toArray(x))).toBeLessThan(1e-5);
  });
  it('colorJitter keeps [0, 1], p = 0 is the identity, and samples get different factors', () => {
    const x = randomImages(4, [6, 5, 5, 3]);
    const strong = { p: 1, brightness: 2, contrast: 2, saturation: 2, hue: 0.5 };
    const y = colorJitter(x, strong, new Rng(5));
    expect(inUnitRange(y)).toBe(true);
    expect(y.shape).toEqual([6, 5, 5, 3]);
    y.dispose();
    expect(Array.from(data(() => colorJitter(x, { ...strong, p: 0 }, new Rng(5))))).toEqual(Array.from(toArray(x)));
    // Constant images under brightness only: each sample's value is its own factor times 0.5.
    const c = tf.fill([4, 2, 2, 1], 0.5) as tf.Tensor4D;
    const out = data(() => colorJitter(c, { brightness: 0.5 }, new Rng(6)));
    const perSample = [0, 4, 8, 12].map((i) => out[i]!);
    expect(new Set(perSample).size).toBe(4);
    expect(perSample.every((v) => v >= 0.25 && v <= 0.75)).toBe(true);
  });
});

describe('solarize and normalize', () => {
  it('inverts values >= 0.5 in selected samples only', () => {
    const x = tf.tensor4d([0.1, 0.49, 0.5, 0.9, 0.1, 0.49, 0.5, 0.9], [2, 1, 4, 1]);
    const out = data(() => solarize(x, [true, false]));
    expect(maxAbsDiff(out, [0.1, 0.49, 0.5, 0.1, 0.1, 0.49, 0.5, 0.9])).toBeLessThan(1e-6);
  });
  it('normalizes per channel', () => {
    const x = tf.tensor4d([0.485, 0.456 + 0.224, 0], [1, 1, 1, 3]);
    const out = data(() => normalize(x, IMAGENET_NORMALIZE.mean, IMAGENET_NORMALIZE.std));
    expect(maxAbsDiff(out, [0, 1, -0.406 / 0.225])).toBeLessThan(1e-5);
  });
});

/** Half-pixel bilinear sample of an H x W image at (y, x), coordinates clamped to the image. */
function bilinear(img: number[][], y: number, x: number): number {
  const h = img.length;
  const w = img[0]!.length;
  const cy = Math.min(Math.max(y, 0), h - 1);
  const cx = Math.min(Math.max(x, 0), w - 1);
  const y0 = Math.floor(cy);
  const x0 = Math.floor(cx);
  const y1 = Math.min(y0 + 1, h - 1);
  const x1 = Math.min(x0 + 1, w - 1);
  const dy = cy - y0;
  const dx = cx - x0;
  const at = (r: number, c: number) => img[r]![c]!;
  return (1 - dy) * ((1 - dx) * at(y0, x0) + dx * at(y0, x1)) + dy * ((1 - dx) * at(y1, x0) + dx * at(y1, x1));
}

describe('random resized crop', () => {
  const img = [
    [0.1, 0.9, 0.3, 0.7],
    [0.5, 0.2, 0.8, 0.4],
    [0.6, 0.0, 1.0, 0.35],
    [0.25, 0.75, 0.45, 0.55],
  ];
  const x = tf.tensor4d(img.flat(), [1, 4, 4, 1]);

  it('an identity box returns the input', () => {
    const r = randomImages(7, [2, 5, 7, 2]);
    const box = { top: 0, left: 0, height: 5, width: 7 };
    expect(maxAbsDiff(data(() => resizedCrop(r, [box, box], [5, 7])), toArray(r))).toBeLessThan(1e-5);
  });
  it('a half box equals hand bilinear values', () => {
    const box = { top: 1, left: 1, height: 2, width: 2 };
    // Same size: the box's pixels exactly.
    expect(maxAbsDiff(data(() => resizedCrop(x, [box], [2, 2])), [0.2, 0.8, 0.0, 1.0])).toBeLessThan(1e-5);
    // 1x1: the centre (1.5, 1.5), the mean of the four.
    expect(maxAbsDiff(data(() => resizedCrop(x, [box], [1, 1])), [0.5])).toBeLessThan(1e-5);
    // 4x4: row/col y samples at 1 + (y + 0.5) / 2 - 0.5. Output (0, 1) at (0.75, 1.25):
    // 0.25*0.75*0.9 + 0.25*0.25*0.3 + 0.75*0.75*0.2 + 0.75*0.25*0.8 = 0.45.
    const out = data(() => resizedCrop(x, [box], [4, 4]));
    expect(Math.abs(out[1]! - 0.45)).toBeLessThan(1e-5);
    const ref = Array.from({ length: 16 }, (_, i) => bilinear(img, 0.75 + 0.5 * Math.floor(i / 4), 0.75 + 0.5 * (i % 4)));
    expect(maxAbsDiff(out, ref)).toBeLessThan(1e-5);
  });
  it('upscaling a corner box clamps at the image border', () => {
    const box = { top: 0, left: 0, height: 2, width: 2 };
    const out = data(() => resizedCrop(x, [box], [4, 4]));
    const ref = Array.from({ length: 16 }, (_, i) => bilinear(img, -0.25 + 0.5 * Math.floor(i / 4), -0.25 + 0.5 * (i % 4)));
    expect(out[0]).toBeCloseTo(0.1, 5);
    expect(maxAbsDiff(out, ref)).toBeLessThan(1e-5);
  });
  it('boxes fit, cover the scale range, and fall back to a ratio-clamped centre crop', () => {
    const rng = new Rng(8);
    for (let i = 0; i < 200; i++) {
      const b = sampleResizedCropBox(rng, 20, 30, [0.3, 0.6], [3 / 4, 4 / 3]);
      expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= 20 && b.left + b.width <= 30).toBe(true);
      const frac = (b.height * b.width) / 600;
      expect(frac).toBeGreaterThan(0.2);
      expect(frac).toBeLessThan(0.7);
    }
    // No 10-attempt box can have aspect >= 10 at >= 90% of an 8x8 image: centre crop 1 x 8.
    expect(sampleResizedCropBox(new Rng(9), 8, 8, [0.9, 1], [10, 20])).toEqual({ top: 3, left: 0, height: 1, width: 8 });
  });
  it('resizes to the configured size and stays in [0, 1]', () => {
    const r = randomImages(10, [3, 12, 10, 3]);
    const y = randomResizedCrop(r, { size: [6, 8] }, new Rng(11));
    expect(y.shape).toEqual([3, 6, 8, 3]);
    expect(inUnitRange(y)).toBe(true);
    y.dispose();
  });
});

describe('gaussian blur', () => {
  it('kernels sum to 1 and are symmetric; sigma 0 is a delta', () => {
    for (const [sigma, k] of [[0.1, 3], [1, 5], [2, 23], [0.5, 1]] as const) {
      const kern = gaussianKernel1d(sigma, k);
      expect(Math.abs(kern.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
      for (let i = 0; i < k; i++) expect(kern[i]).toBeCloseTo(kern[k - 1 - i]!, 7);
    }
    expect(Array.from(gaussianKernel1d(0, 5))).toEqual([0, 0, 1, 0, 0]);
  });
  it('tiny sigma is ~identity and a constant image stays constant (mean preserved)', () => {
    const r = randomImages(12, [2, 6, 6, 3]);
    expect(maxAbsDiff(data(() => gaussianBlur(r, [1e-3, 1e-3], 5)), toArray(r))).toBeLessThan(1e-6);
    const c = tf.fill([3, 6, 5, 1], 0.3) as tf.Tensor4D;
    const out = data(() => gaussianBlur(c, [0.5, 1, 2], 5));
    expect(maxAbsDiff(out, new Float32Array(out.length).fill(0.3))).toBeLessThan(1e-6);
  });
  it('blurs each sample with its own sigma (reference separable conv, reflect padding)', () => {
    const [b, h, w, ch, k] = [3, 6, 7, 2, 5];
    const r = randomImages(13, [b, h, w, ch]);
    const sigmas = [0, 1.5, 0.7];
    const out = data(() => gaussianBlur(r, sigmas, k));
    const src = toArray(r);
    const reflect = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
    const ref = new Float32Array(src.length);
    for (let s = 0; s < b; s++) {
      const kern = gaussianKernel1d(sigmas[s]!, k);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let c = 0; c < ch; c++) {
            let acc = 0;
            for (let i = 0; i < k; i++) {
              for (let j = 0; j < k; j++) {
                const yy = reflect(y + i - 2, h);
                const xx = reflect(x + j - 2, w);
                acc += kern[i]! * kern[j]! * src[((s * h + yy) * w + xx) * ch + c]!;
              }
            }
            ref[((s * h + y) * w + x) * ch + c] = acc;
          }
        }
      }
    }
    expect(maxAbsDiff(out, ref)).toBeLessThan(1e-5);
    // Sample 0 (sigma 0) is bit-identical.
    const n0 = h * w * ch;
    expect(Array.from(out.slice(0, n0))).toEqual(Array.from(src.slice(0, n0)));
  });
  it('p = 0 leaves the batch unchanged; a too-large kernel is an error', () => {
    const r = randomImages(14, [2, 4, 4, 1]);
    expect(Array.from(data(() => randomGaussianBlur(r, { p: 0, kernelSize: 3 }, new Rng(1))))).toEqual(Array.from(toArray(r)));
    expect(() => gaussianBlur(r, [1, 1], 9)).toThrow(/kernelSize 9/);
  });
});

describe('pipelines', () => {
  const rgbPipe: AugmentStepInput[] = [
    { type: 'randomResizedCrop', size: 8, scale: [0.3, 1] },
    { type: 'colorJitter', p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    { type: 'grayscale', p: 0.2 },
    { type: 'gaussianBlur', p: 0.5, kernelSize: 3 },
    { type: 'solarize', p: 0.5 },
    { type: 'horizontalFlip' },
  ];

  it('augmentView returns the crops and flips it drew, and given ones replace the draws', () => {
    const x = randomImages(21, [4, 10, 10, 3]);
    const drawn = augmentView(x, rgbPipe, new Rng(5));
    // The same output as applyPipeline from the same seed, and the geometry randomResizedCrop draws first.
    expect(Array.from(drawn.view.dataSync())).toEqual(Array.from(data(() => applyPipeline(x, rgbPipe, new Rng(5)))));
    const boxRng = new Rng(5);
    expect(drawn.geometry.crops).toEqual(Array.from({ length: 4 }, () => sampleResizedCropBox(boxRng, 10, 10, [0.3, 1], [3 / 4, 4 / 3])));
    expect(drawn.geometry.flips).toHaveLength(4);
    // Given geometry: the crop and flip steps use it; only the photometric steps draw.
    const given = { crops: [0, 1, 2, 3].map(() => ({ top: 1, left: 2, height: 6, width: 5 })), flips: [true, false, true, false] };
    const a = augmentView(x, rgbPipe, new Rng(7), given);
    expect(a.geometry).toEqual(given);
    const photometric = rgbPipe.filter((st) => st.type !== 'randomResizedCrop' && st.type !== 'horizontalFlip');
    const byHand = data(() => {
      const cropped = resizedCrop(x, given.crops, [8, 8]);
      return horizontalFlip(applyPipeline(cropped, photometric, new Rng(7)), given.flips);
    });
    expect(Array.from(a.view.dataSync())).toEqual(Array.from(byHand));
    expect(() => augmentView(x, [...rgbPipe, { type: 'horizontalFlip' }], new Rng(7), given)).toThrow(/more than one horizontalFlip step/);
    tf.dispose([drawn.view, a.view]);
  });

  it('keeps shapes and [0, 1]; same seed same output, different seeds differ', () => {
    const x = randomImages(20, [4, 10, 10, 3]);
    const a = data(() => applyPipeline(x, rgbPipe, new Rng(1)));
    const b = data(() => applyPipeline(x, rgbPipe, new Rng(1)));
    const c = data(() => applyPipeline(x, rgbPipe, new Rng(2)));
    expect(a.length).toBe(4 * 8 * 8 * 3);
    expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(maxAbsDiff(a, c)).toBeGreaterThan(0.05);
  });

  it('config errors name every bad field', () => {
    const bad = [
      { type: 'randomResizedCrop', scale: [0.5, 0.2] },
      { type: 'colorJitter', hue: 0.7, brightnes: 0.4 },
      { type: 'gaussianBlur', kernelSize: 4 },
      { type: 'flip' },
      { type: 'solarize', p: 2 },
    ];
    let msg = '';
    try {
      parsePipeline(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    for (const field of ['steps[0].scale', 'steps[1].hue', 'brightnes', 'steps[2].kernelSize', 'steps[3].type', 'steps[4].p']) {
      expect(msg).toContain(field);
    }
  });

  it('grayscale images: RGB-only settings are errors naming the field; the rest works', () => {
    expect(() => parsePipeline([{ type: 'colorJitter', saturation: 0.2, hue: 0.1 }, { type: 'grayscale' }], 1)).toThrow(
      /steps\[0\]\.saturation.*steps\[0\]\.hue.*steps\[1\]\.type/,
    );
    expect(() => parsePipeline([{ type: 'normalize', mean: [0.5, 0.5], std: [0.2, 0.2] }], 1)).toThrow(/steps\[0\]\.mean/);
    const g = randomImages(21, [3, 9, 9, 1]);
    expect(() => applyPipeline(g, rgbPipe, new Rng(1))).toThrow(/saturation/);
    const grayPipe: AugmentStepInput[] = [
      { type: 'randomResizedCrop' },
      { type: 'colorJitter', brightness: 0.4, contrast: 0.4 },
      { type: 'gaussianBlur' },
      { type: 'solarize', p: 1 },
      { type: 'horizontalFlip' },
      { type: 'normalize', mean: [0.5], std: [0.25] },
    ];
    const y = applyPipeline(g, grayPipe, new Rng(2));
    expect(y.shape).toEqual([3, 9, 9, 1]);
    // Solarised values are in [0, 0.5], so normalised ones are in [-2, 0].
    expect(toArray(y).every((v) => v >= -2 - 1e-5 && v <= 1e-5)).toBe(true);
    y.dispose();
  });

  it('presets: asymmetricPair for RGB and grayscale, simpleCropFlip', () => {
    const rgb = asymmetricPair({ channels: 3, normalize: IMAGENET_NORMALIZE });
    expect(rgb.view1.map((s) => s.type)).toEqual(['randomResizedCrop', 'colorJitter', 'grayscale', 'gaussianBlur', 'horizontalFlip', 'normalize']);
    expect(rgb.view2.map((s) => s.type)).toEqual(['randomResizedCrop', 'colorJitter', 'grayscale', 'gaussianBlur', 'solarize', 'horizontalFlip', 'normalize']);
    const blurP = (steps: typeof rgb.view1) => steps.flatMap((s) => (s.type === 'gaussianBlur' ? [s.p] : []));
    expect([blurP(rgb.view1), blurP(rgb.view2)]).toEqual([[1], [0.1]]);
    const gray = asymmetricPair({ channels: 1 });
    expect(gray.view2.map((s) => s.type)).toEqual(['randomResizedCrop', 'colorJitter', 'gaussianBlur', 'solarize', 'horizontalFlip']);
    const jitter = gray.view1.find((s) => s.type === 'colorJitter');
    expect(jitter).toMatchObject({ brightness: 0.4, contrast: 0.4, saturation: 0, hue: 0 });
    const g = randomImages(22, [4, 12, 12, 1]);
    const [v1, v2] = twoViews(g, gray.view1, gray.view2, new Rng(3));
    expect([v1.shape, v2.shape]).toEqual([[4, 12, 12, 1], [4, 12, 12, 1]]);
    expect(inUnitRange(v1) && inUnitRange(v2)).toBe(true);
    expect(maxAbsDiff(toArray(v1), toArray(v2))).toBeGreaterThan(0.05);
    tf.dispose([v1, v2]);
    const s = applyPipeline(g, simpleCropFlip({ size: 6 }), new Rng(4));
    expect(s.shape).toEqual([4, 6, 6, 1]);
    s.dispose();
  });

  it('twoViews: view 2 does not depend on pipeline 1', () => {
    const x = randomImages(23, [3, 8, 8, 3]);
    const p2 = asymmetricPair({ channels: 3 }).view2;
    const [a1, a2] = twoViews(x, simpleCropFlip(), p2, new Rng(5));
    const [b1, b2] = twoViews(x, asymmetricPair({ channels: 3 }).view1, p2, new Rng(5));
    expect(Array.from(toArray(a2))).toEqual(Array.from(toArray(b2)));
    tf.dispose([a1, a2, b1, b2]);
  });

  it('leaks no tensors over 20 calls', () => {
    const x = randomImages(24, [4, 10, 10, 3]);
    const { view1, view2 } = asymmetricPair({ channels: 3, normalize: IMAGENET_NORMALIZE });
    const rng = new Rng(6);
    tf.dispose(twoViews(x, view1, view2, rng)); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) tf.dispose(twoViews(x, view1, view2, rng));
    for (let i = 0; i < 10; i++) applyPipeline(x, rgbPipe, rng).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('backend parity', () => {
  const others = ['cpu', 'wasm'].filter((b) => b !== backend.tfjsName);
  it(`the same seed gives the same output on ${backend.name} and ${others.join(', ')} to 1e-5`, async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    const steps: AugmentStepInput[] = [
      { type: 'randomResizedCrop', size: 10, scale: [0.2, 1] },
      { type: 'colorJitter', p: 1, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2 },
      { type: 'grayscale', p: 0.3 },
      { type: 'gaussianBlur', p: 1, kernelSize: 3 },
      { type: 'solarize', p: 0.5 },
      { type: 'horizontalFlip' },
      { type: 'normalize', ...IMAGENET_NORMALIZE },
    ];
    const run = () => {
      const x = randomImages(30, [6, 12, 12, 3]);
      const out = data(() => applyPipeline(x, steps, new Rng(31)));
      x.dispose();
      return out;
    };
    const here = run();
    const quiet = vi.spyOn(console, 'warn').mockImplementation(() => {}); // cpu's "use tfjs-node" banner
    try {
      for (const name of others) {
        expect(await tf.setBackend(name)).toBe(true);
        expect(maxAbsDiff(here, run()), name).toBeLessThan(1e-5);
      }
    } finally {
      quiet.mockRestore();
      await tf.setBackend(backend.tfjsName);
    }
  });
});
