// Gradient clipping by global L2 norm with the semantics of torch.nn.utils.clip_grad_norm_
// (norm_type 2): every gradient is multiplied by min(1, maxNorm / (norm + 1e-6)). Stays on the
// device: the norm is returned as a scalar tensor for logging, never read back here. The squared norms
// are summed as one stacked vector, not with tf.addN: WebGPU's AddN binds one buffer per input and
// fails (leaving a wrong sum) past the device's storage-buffer limit, 8 per shader by default.
import * as tf from '@tensorflow/tfjs-core';

export interface ClipResult {
  /** New gradient tensors (the inputs are not disposed). */
  grads: Record<string, tf.Tensor>;
  /** The total norm before clipping, a scalar. */
  norm: tf.Scalar;
}

/** Clip `grads` to global norm `maxNorm`. The caller owns (and disposes) everything returned. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): ClipResult {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) {
    throw new Error(`clipByGlobalNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  }
  return tf.tidy(() => {
    const sumSquares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = (sumSquares.length > 0 ? tf.sqrt(tf.sum(tf.stack(sumSquares))) : tf.scalar(0)) as tf.Scalar;
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    const clipped: Record<string, tf.Tensor> = {};
    for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, scale);
    return { grads: clipped, norm };
  });
}
