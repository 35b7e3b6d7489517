// A masked-image-modelling reconstruction for display: the image's own patches where the student saw
// them, the method's predicted patches where they were masked, back in image layout and clipped to
// [0, 1] (what MAE's and SimMIM's demos show).
import * as tf from '@tensorflow/tfjs-core';
import { patchify, unpatchify } from '../vit/patchify.js';

/**
 * images [B, H, W, C] in [0, 1]; predicted [B, N, p*p*C] pixel patches in token order; mask [B, N] with
 * 1 at masked tokens. Returns a new [B, H, W, C] tensor.
 */
export function pasteMaskedPatches(images: tf.Tensor4D, predicted: tf.Tensor3D, mask: tf.Tensor2D, patchSize: number): tf.Tensor4D {
  const [b, h, w] = images.shape;
  return tf.tidy(() => {
    const given = patchify(images, patchSize);
    if (given.shape.join() !== predicted.shape.join()) throw new Error(`pasteMaskedPatches: predicted [${predicted.shape}] for patches [${given.shape}]`);
    const m = tf.reshape(mask, [b, -1, 1]);
    const mixed = tf.add(tf.mul(predicted, m), tf.mul(given, tf.sub(1, m))) as tf.Tensor3D;
    return tf.clipByValue(unpatchify(mixed, patchSize, h / patchSize, w / patchSize), 0, 1) as tf.Tensor4D;
  });
}
