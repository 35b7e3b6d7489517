// Grayscale conversion with torchvision's luma weights (0.2989 R + 0.587 G + 0.114 B), and random
// grayscale as torchvision's RandomGrayscale: with probability p a sample becomes its luma repeated
// over the 3 channels. RGB only: on 1-channel images it is rejected (they are grayscale already).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { coins, imageShape, selectSamples } from './common.js';
import { parseOrThrow } from '../util/config.js';

export const LUMA_WEIGHTS = [0.2989, 0.587, 0.114] as const;

export const GrayscaleOptions = z.object({ p: z.number().min(0).max(1).default(0.1) }).strict();
export type GrayscaleOptions = z.output<typeof GrayscaleOptions>;

export function requireRgb(images: tf.Tensor4D, op: string): void {
  const c = imageShape(images, op)[3];
  if (c !== 3) throw new Error(`${op}: needs RGB images (3 channels), got ${c} channel${c === 1 ? '' : 's'}`);
}

/** [B, H, W, 3] -> [B, H, W, 1] luma (not clipped). */
export function rgbToGrayscale(images: tf.Tensor4D): tf.Tensor4D {
  requireRgb(images, 'rgbToGrayscale');
  return tf.tidy(() => tf.sum(tf.mul(images, tf.tensor1d(LUMA_WEIGHTS.slice())), 3, true));
}

/** Samples b with which[b] true become their luma on all 3 channels; the others are unchanged. */
export function grayscale(images: tf.Tensor4D, which: readonly boolean[]): tf.Tensor4D {
  requireRgb(images, 'grayscale');
  const [batch] = images.shape;
  if (which.length !== batch) throw new Error(`grayscale: expected ${batch} flags (one per sample), got ${which.length}`);
  return tf.tidy(() => {
    if (which.every((w) => !w)) return images.clone();
    const gray = tf.tile(rgbToGrayscale(images), [1, 1, 1, 3]);
    return which.every((w) => w) ? gray : selectSamples(which, gray, images);
  });
}

/** Each sample turns gray with probability p (one rng.next() per sample). */
export function randomGrayscale(images: tf.Tensor4D, options: z.input<typeof GrayscaleOptions>, rng: Rng): tf.Tensor4D {
  const o = parseOrThrow(GrayscaleOptions, options, 'grayscale options');
  requireRgb(images, 'randomGrayscale');
  return grayscale(images, coins(rng, images.shape[0], o.p));
}
