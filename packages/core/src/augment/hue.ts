// Hue adjustment, as torchvision's adjust_hue (not simplified): RGB -> HSV with torchvision's
// _rgb2hsv formulas, hue rotated by the sample's shift (a fraction of the colour wheel, in
// [-0.5, 0.5]; h' = (h + shift) mod 1), and back with the closed form of HSV -> RGB
// (channel n in {R: 5, G: 3, B: 1}: k = (n + 6h) mod 6, c = v - v s clip(min(k, 4 - k), 0, 1)),
// which equals torchvision's six-sector table up to float rounding. Saturation and value are kept.
// Samples with shift 0 are returned bit-identical. RGB only.
import * as tf from '@tensorflow/tfjs-core';
import { checkPerSample, perSample, selectSamples } from './common.js';
import { requireRgb } from './grayscale.js';

/** [B, H, W, 3] RGB in [0, 1] -> [B, H, W, 3] HSV, every component in [0, 1] (h = 0 for grays). */
export function rgbToHsv(images: tf.Tensor4D): tf.Tensor4D {
  requireRgb(images, 'rgbToHsv');
  return tf.tidy(() => {
    const [r, g, b] = tf.split(images, 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const maxc = tf.max(images, 3, true);
    const minc = tf.min(images, 3, true);
    const eqc = tf.equal(maxc, minc);
    const cr = tf.sub(maxc, minc);
    const ones = tf.onesLike(maxc);
    const s = tf.div(cr, tf.where(eqc, ones, maxc));
    const crDivisor = tf.where(eqc, ones, cr);
    const rc = tf.div(tf.sub(maxc, r), crDivisor);
    const gc = tf.div(tf.sub(maxc, g), crDivisor);
    const bc = tf.div(tf.sub(maxc, b), crDivisor);
    const isR = tf.equal(maxc, r);
    const isG = tf.logicalAnd(tf.equal(maxc, g), tf.logicalNot(isR));
    const isB = tf.logicalAnd(tf.logicalNot(tf.equal(maxc, g)), tf.logicalNot(isR));
    const hr = tf.mul(tf.cast(isR, 'float32'), tf.sub(bc, gc));
    const hg = tf.mul(tf.cast(isG, 'float32'), tf.add(2, tf.sub(rc, bc)));
    const hb = tf.mul(tf.cast(isB, 'float32'), tf.add(4, tf.sub(gc, rc)));
    const h = tf.mod(tf.add(tf.div(tf.addN([hr, hg, hb]), 6), 1), 1);
    return tf.concat([h, s, maxc], 3) as tf.Tensor4D;
  });
}

/** [B, H, W, 3] HSV -> RGB (closed form; see the file header). */
export function hsvToRgb(hsv: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [h, s, v] = tf.split(hsv, 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const h6 = tf.mul(h, 6);
    const vs = tf.mul(v, s);
    const channel = (n: number) => {
      const k = tf.mod(tf.add(h6, n), 6);
      return tf.sub(v, tf.mul(vs, tf.clipByValue(tf.minimum(k, tf.sub(4, k)), 0, 1)));
    };
    return tf.concat([channel(5), channel(3), channel(1)], 3) as tf.Tensor4D;
  });
}

/** Rotates the hue of sample b by shifts[b] (in [-0.5, 0.5]); shift-0 samples are unchanged. */
export function adjustHue(images: tf.Tensor4D, shifts: ArrayLike<number>): tf.Tensor4D {
  requireRgb(images, 'adjustHue');
  const batch = images.shape[0];
  checkPerSample(shifts, batch, 'adjustHue shifts');
  for (let i = 0; i < batch; i++) {
    if (!(Math.abs(shifts[i]!) <= 0.5)) throw new Error(`adjustHue: shift ${i} must be in [-0.5, 0.5], got ${shifts[i]}`);
  }
  const moved = Array.from(shifts, (x) => x !== 0);
  return tf.tidy(() => {
    if (!moved.some(Boolean)) return images.clone();
    const hsv = rgbToHsv(images);
    const [h, sv] = tf.split(hsv, [1, 2], 3) as [tf.Tensor4D, tf.Tensor4D];
    const rotated = tf.mod(tf.add(h, perSample(shifts)), 1) as tf.Tensor4D;
    const rgb = hsvToRgb(tf.concat([rotated, sv], 3));
    return moved.every(Boolean) ? rgb : selectSamples(moved, rgb, images);
  });
}
