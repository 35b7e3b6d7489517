// Contrast adjustment, as torchvision's adjust_contrast: each sample is blended with the mean of its
// grayscale version (for RGB the mean of the luma image; for 1 channel the mean of the image),
// clip(f * x + (1 - f) * mean, 0, 1). Factor 0 gives a uniform gray image, 1 the image unchanged.
import * as tf from '@tensorflow/tfjs-core';
import { blend, checkPerSample, imageShape } from './common.js';
import { rgbToGrayscale } from './grayscale.js';

/** Contrast by factors[b] for sample b. Images must have 1 or 3 channels. */
export function adjustContrast(images: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  const [batch, , , channels] = imageShape(images, 'adjustContrast');
  if (channels !== 1 && channels !== 3) throw new Error(`adjustContrast: needs 1 or 3 channels, got ${channels}`);
  checkPerSample(factors, batch, 'adjustContrast factors');
  return tf.tidy(() => {
    const gray = channels === 3 ? rgbToGrayscale(images) : images;
    return blend(images, tf.mean(gray, [1, 2, 3], true), factors);
  });
}
