// Random horizontal flip, as torchvision's RandomHorizontalFlip: each sample is mirrored left-right
// (along W) with probability p.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { coins, imageShape, selectSamples } from './common.js';
import { parseOrThrow } from '../util/config.js';

export const FlipOptions = z.object({ p: z.number().min(0).max(1).default(0.5) }).strict();
export type FlipOptions = z.output<typeof FlipOptions>;

/** Mirrors along W the samples b with which[b] true; the others are copied unchanged. */
export function horizontalFlip(images: tf.Tensor4D, which: readonly boolean[]): tf.Tensor4D {
  const [batch] = imageShape(images, 'horizontalFlip');
  if (which.length !== batch) throw new Error(`horizontalFlip: expected ${batch} flags (one per sample), got ${which.length}`);
  return tf.tidy(() => {
    if (which.every((w) => !w)) return images.clone();
    const flipped = tf.reverse(images, 2);
    return which.every((w) => w) ? flipped : selectSamples(which, flipped, images);
  });
}

/** Flips each sample with probability p (one rng.next() per sample, flip when < p). */
export function randomHorizontalFlip(images: tf.Tensor4D, options: z.input<typeof FlipOptions>, rng: Rng): tf.Tensor4D {
  const o = parseOrThrow(FlipOptions, options, 'horizontalFlip options');
  const [batch] = imageShape(images, 'randomHorizontalFlip');
  return horizontalFlip(images, coins(rng, batch, o.p));
}
