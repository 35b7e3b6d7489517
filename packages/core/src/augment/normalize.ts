// Per-channel normalisation, as torchvision's Normalize: (x - mean[c]) / std[c]. The last step of a
// pipeline (its output is no longer in [0, 1]).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { imageShape } from './common.js';

export const NormalizeOptions = z
  .object({
    mean: z.array(z.number()).min(1),
    std: z.array(z.number().positive()).min(1),
  })
  .strict()
  .refine((o) => o.mean.length === o.std.length, { message: 'mean and std must have the same length', path: ['std'] });
export type NormalizeOptions = z.output<typeof NormalizeOptions>;

/** ImageNet statistics (RGB), as used by MAE, MoCo v3 and MOCA. */
export const IMAGENET_NORMALIZE: NormalizeOptions = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** (images - mean) / std per channel; mean and std have one entry per channel. */
export function normalize(images: tf.Tensor4D, mean: readonly number[], std: readonly number[]): tf.Tensor4D {
  const channels = imageShape(images, 'normalize')[3];
  if (mean.length !== channels || std.length !== channels) {
    throw new Error(`normalize: mean and std need ${channels} entries (one per channel), got ${mean.length} and ${std.length}`);
  }
  if (!std.every((s) => s > 0)) throw new Error(`normalize: std must be > 0, got [${std.join(', ')}]`);
  return tf.tidy(() => tf.div(tf.sub(images, tf.tensor1d(mean.slice())), tf.tensor1d(std.slice())));
}
