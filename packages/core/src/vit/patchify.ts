// Images <-> sequences of flattened patches. Images are NHWC [B, H, W, C]; a patch vector is ordered
// (row in patch, column in patch, channel), as MAE's patchify; tokens are in row-major grid order.
import * as tf from '@tensorflow/tfjs-core';

/** [B, H, W, C] -> [B, (H/p)(W/p), p*p*C]. */
export function patchify(images: tf.Tensor4D, patchSize: number): tf.Tensor3D {
  const [b, h, w, c] = images.shape;
  const p = patchSize;
  if (h % p !== 0 || w % p !== 0) throw new Error(`patchify: image ${h}x${w} is not divisible by patch ${p}`);
  return tf.tidy(() => {
    const gh = h / p;
    const gw = w / p;
    const split = tf.reshape(images, [b, gh, p, gw, p, c]);
    return tf.reshape(tf.transpose(split, [0, 1, 3, 2, 4, 5]), [b, gh * gw, p * p * c]) as tf.Tensor3D;
  });
}

/** [B, gh*gw, p*p*C] -> [B, gh*p, gw*p, C]; the inverse of patchify. */
export function unpatchify(patches: tf.Tensor3D, patchSize: number, gridH: number, gridW: number): tf.Tensor4D {
  const [b, n, len] = patches.shape;
  const p = patchSize;
  if (n !== gridH * gridW) throw new Error(`unpatchify: ${n} patches for a ${gridH}x${gridW} grid`);
  const c = len / (p * p);
  if (!Number.isInteger(c)) throw new Error(`unpatchify: patch length ${len} is not a multiple of ${p}x${p}`);
  return tf.tidy(() => {
    const grid = tf.reshape(patches, [b, gridH, gridW, p, p, c]);
    return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [b, gridH * p, gridW * p, c]) as tf.Tensor4D;
  });
}
