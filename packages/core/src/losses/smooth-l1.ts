// Smooth L1 (Huber) distance, as torch.nn.SmoothL1Loss(beta): 0.5 d^2 / beta where |d| < beta, else
// |d| - beta / 2, averaged over every element. Feature distillation's regression loss (MOMA, FD).
import * as tf from '@tensorflow/tfjs-core';

/**
 * The mean smooth-L1 distance between `pred` and `target` (same shape). A new scalar.
 *
 * @example smoothL1(projected, stopGradient(teacherTokens), 2)
 */
export function smoothL1(pred: tf.Tensor, target: tf.Tensor, beta = 1): tf.Scalar {
  if (pred.shape.join() !== target.shape.join()) throw new Error(`smoothL1: pred [${pred.shape}] and target [${target.shape}] differ`);
  if (!(beta > 0)) throw new Error(`smoothL1: beta must be > 0, got ${beta}`);
  return tf.tidy(() => {
    // With q = min(|d|, beta): 0.5 q^2 / beta + (|d| - q), one expression for both branches.
    const a = tf.abs(tf.sub(pred, target));
    const q = tf.minimum(a, beta);
    return tf.mean(tf.add(tf.div(tf.mul(tf.square(q), 0.5), beta), tf.sub(a, q))) as tf.Scalar;
  });
}
