// Solarisation, as torchvision's RandomSolarize / PIL's ImageOps.solarize: with probability p a
// sample has every value >= threshold replaced by 1 - value (images in [0, 1]; threshold 0.5 is
// PIL's 128 of 255).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { coins, imageShape, perSample } from './common.js';
import { parseOrThrow } from '../util/config.js';

export const SolarizeOptions = z
  .object({
    p: z.number().min(0).max(1).default(0.5),
    threshold: z.number().min(0).max(1).default(0.5),
  })
  .strict();
export type SolarizeOptions = z.output<typeof SolarizeOptions>;

/** Samples b with which[b] true: x >= threshold -> 1 - x; the others are unchanged. */
export function solarize(images: tf.Tensor4D, which: readonly boolean[], threshold = 0.5): tf.Tensor4D {
  const [batch] = imageShape(images, 'solarize');
  if (which.length !== batch) throw new Error(`solarize: expected ${batch} flags (one per sample), got ${which.length}`);
  return tf.tidy(() => {
    // Unselected samples get an infinite threshold, which nothing reaches.
    const thresholds = perSample(which.map((w) => (w ? threshold : Infinity)));
    return tf.where(tf.greaterEqual(images, thresholds), tf.sub(1, images), images) as tf.Tensor4D;
  });
}

/** Solarises each sample with probability p (one rng.next() per sample). */
export function randomSolarize(images: tf.Tensor4D, options: z.input<typeof SolarizeOptions>, rng: Rng): tf.Tensor4D {
  const o = parseOrThrow(SolarizeOptions, options, 'solarize options');
  const [batch] = imageShape(images, 'randomSolarize');
  return solarize(images, coins(rng, batch, o.p), o.threshold);
}
