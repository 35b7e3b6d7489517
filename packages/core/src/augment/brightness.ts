// Brightness adjustment, as torchvision's adjust_brightness: each sample is multiplied by its factor
// and clipped to [0, 1] (factor 0 gives black, 1 the image unchanged). Any number of channels.
import * as tf from '@tensorflow/tfjs-core';
import { checkPerSample, imageShape, perSample } from './common.js';

/** clip(images[b] * factors[b], 0, 1) per sample b. */
export function adjustBrightness(images: tf.Tensor4D, factors: ArrayLike<number>): tf.Tensor4D {
  const [batch] = imageShape(images, 'adjustBrightness');
  checkPerSample(factors, batch, 'adjustBrightness factors');
  return tf.tidy(() => tf.clipByValue(tf.mul(images, perSample(factors)), 0, 1) as tf.Tensor4D);
}
