// Saturation adjustment, as torchvision's adjust_saturation: each RGB sample is blended with its luma
// image, clip(f * x + (1 - f) * gray, 0, 1). Factor 0 gives grayscale, 1 the image unchanged, > 1
// more saturated colours. RGB only (a 1-channel image has no saturation).
import * as tf from '@tensorflow/tfjs-core';
import { blend, checkPerSample } from './common.js';
import { requireRgb, rgbToGrayscale } from './grayscale.js';

/** Saturation by factors[b] for sample b of an RGB batch. */
export function adjustSaturation(images: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  requireRgb(images, 'adjustSaturation');
  checkPerSample(factors, images.shape[0], 'adjustSaturation factors');
  return tf.tidy(() => blend(images, rgbToGrayscale(images), factors));
}
