// L2 normalisation along an axis, as torch.nn.functional.normalize: x / max(||x||_2, eps). The one
// normaliser every method and the k-NN harness use (MOCA passes its reference's eps 1e-5).
import * as tf from '@tensorflow/tfjs-core';

/**
 * `x` divided by its L2 norm along `axis` (default the last), the norm clamped below at `eps`
 * (default 1e-12, torch's). A new tensor of x's shape.
 *
 * @example l2Normalize(tf.tensor2d([[3, 4]])) // [[0.6, 0.8]]
 */
export function l2Normalize<T extends tf.Tensor>(x: T, axis = -1, eps = 1e-12): T {
  if (!(eps > 0)) throw new Error(`l2Normalize: eps must be > 0, got ${eps}`);
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), axis, true)), eps)) as T);
}
