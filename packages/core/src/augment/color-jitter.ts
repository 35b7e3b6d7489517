// Colour jitter, as torchvision's RandomApply([ColorJitter(brightness, contrast, saturation, hue)], p):
// with probability p a sample gets a brightness factor ~ U[max(0, 1 - b), 1 + b], a contrast factor
// ~ U[max(0, 1 - c), 1 + c], a saturation factor ~ U[max(0, 1 - s), 1 + s] and a hue shift
// ~ U[-h, h]. Unlike torchvision, the four are applied in a fixed order (brightness, contrast,
// saturation, hue) rather than a random permutation per call. Samples not selected get the identity
// parameters (1, 1, 1, 0), which leave images in [0, 1] unchanged. Saturation and hue need RGB; with
// 1-channel images they must be 0.
import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { adjustBrightness } from './brightness.js';
import { imageShape } from './common.js';
import { parseOrThrow } from '../util/config.js';
import { adjustContrast } from './contrast.js';
import { adjustHue } from './hue.js';
import { adjustSaturation } from './saturation.js';

export const ColorJitterOptions = z
  .object({
    /** Probability that a sample is jittered at all (torchvision's RandomApply). */
    p: z.number().min(0).max(1).default(1),
    brightness: z.number().min(0).default(0),
    contrast: z.number().min(0).default(0),
    saturation: z.number().min(0).default(0),
    hue: z.number().min(0).max(0.5).default(0),
  })
  .strict();
export type ColorJitterOptions = z.output<typeof ColorJitterOptions>;

/** Per-sample jitter parameters (identity for samples not selected). */
export interface JitterParams {
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  hue: Float32Array;
}

/**
 * Draws per-sample parameters. Per sample, in order: one rng.next() for the p coin, then one uniform
 * for each of brightness, contrast, saturation, hue whose strength is > 0 (drawn even when the coin
 * says no, so the number of draws depends only on the options and the batch size).
 */
export function sampleJitterParams(rng: Rng, batch: number, o: ColorJitterOptions): JitterParams {
  const out: JitterParams = {
    brightness: new Float32Array(batch).fill(1),
    contrast: new Float32Array(batch).fill(1),
    saturation: new Float32Array(batch).fill(1),
    hue: new Float32Array(batch),
  };
  const factor = (strength: number) => rng.uniform(Math.max(0, 1 - strength), 1 + strength);
  for (let b = 0; b < batch; b++) {
    const apply = rng.next() < o.p;
    const bf = o.brightness > 0 ? factor(o.brightness) : 1;
    const cf = o.contrast > 0 ? factor(o.contrast) : 1;
    const sf = o.saturation > 0 ? factor(o.saturation) : 1;
    const hf = o.hue > 0 ? rng.uniform(-o.hue, o.hue) : 0;
    if (apply) {
      out.brightness[b] = bf;
      out.contrast[b] = cf;
      out.saturation[b] = sf;
      out.hue[b] = hf;
    }
  }
  return out;
}

/** Applies per-sample jitter parameters in the fixed order brightness, contrast, saturation, hue. */
export function applyJitter(images: tf.Tensor4D, params: JitterParams): tf.Tensor4D {
  const steps: [Float32Array, number, (x: tf.Tensor4D, v: Float32Array) => tf.Tensor4D][] = [
    [params.brightness, 1, adjustBrightness],
    [params.contrast, 1, adjustContrast],
    [params.saturation, 1, adjustSaturation],
    [params.hue, 0, adjustHue],
  ];
  let x = images;
  for (const [values, identity, op] of steps) {
    if (values.every((v) => v === identity)) continue;
    const next = op(x, values);
    if (x !== images) x.dispose();
    x = next;
  }
  return x === images ? images.clone() : x;
}

/** RandomApply(ColorJitter) on every sample; see sampleJitterParams for the draws. */
export function colorJitter(images: tf.Tensor4D, options: z.input<typeof ColorJitterOptions>, rng: Rng): tf.Tensor4D {
  const o = parseOrThrow(ColorJitterOptions, options, 'colorJitter options');
  const [batch, , , channels] = imageShape(images, 'colorJitter');
  if (channels !== 3 && (o.saturation > 0 || o.hue > 0)) {
    throw new Error(`colorJitter: saturation and hue need RGB images (3 channels), got ${channels}; set them to 0`);
  }
  return applyJitter(images, sampleJitterParams(rng, batch, o));
}
