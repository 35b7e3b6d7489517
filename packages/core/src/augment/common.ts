// Helpers shared by the augmentations: the image-batch check, per-sample parameters as [B, 1, 1, 1]
// tensors, per-sample selection and torchvision's `_blend`, and Bernoulli draws from the Rng.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';

export type ImageShape = [batch: number, height: number, width: number, channels: number];

/** Checks that `images` is a float32 [B, H, W, C] tensor and returns its shape. */
export function imageShape(images: tf.Tensor, op: string): ImageShape {
  if (images.rank !== 4) throw new Error(`${op}: images must be [B, H, W, C], got shape [${images.shape.join(', ')}]`);
  if (images.dtype !== 'float32') throw new Error(`${op}: images must be float32, got ${images.dtype}`);
  return images.shape as ImageShape;
}

/** Checks that a per-sample parameter list has one finite entry per sample. */
export function checkPerSample(values: ArrayLike<number>, batch: number, what: string): void {
  if (values.length !== batch) throw new Error(`${what}: expected ${batch} values (one per sample), got ${values.length}`);
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) throw new Error(`${what}: value ${i} is NaN`);
  }
}

/** One value per sample as a [B, 1, 1, 1] float32 tensor, broadcastable against [B, H, W, C]. */
export function perSample(values: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1], 'float32');
}

/** Per sample b: `ifTrue[b]` where `which[b]`, else `ifFalse[b]` (same shapes). */
export function selectSamples(which: ArrayLike<boolean>, ifTrue: tf.Tensor4D, ifFalse: tf.Tensor4D): tf.Tensor4D {
  const cond = tf.tensor4d(Uint8Array.from(which, (w) => (w ? 1 : 0)), [which.length, 1, 1, 1], 'bool');
  return tf.where(cond, ifTrue, ifFalse);
}

/** torchvision's `_blend` with a per-sample ratio: clip(f * a + (1 - f) * b, 0, 1); `b` may broadcast. */
export function blend(a: tf.Tensor4D, b: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  const f = perSample(factors);
  return tf.clipByValue(tf.add(tf.mul(f, a), tf.mul(tf.sub(1, f), b)), 0, 1) as tf.Tensor4D;
}

/** B Bernoulli(p) draws, one `rng.next()` per sample: true when next() < p (so p = 1 always, p = 0 never). */
export function coins(rng: Rng, batch: number, p: number): boolean[] {
  const out: boolean[] = [];
  for (let b = 0; b < batch; b++) out.push(rng.next() < p);
  return out;
}

