// BatchNorm1d in training mode, as the projection heads of MoCo v3 and MOCA's prototype generators use
// it: normalised over the batch axis with the batch's own statistics (no running averages are kept:
// these heads are discarded after pre-training), then an optional affine transform.
import * as tf from '@tensorflow/tfjs-core';

/** torch.nn.BatchNorm1d's default eps. */
export const BATCH_NORM_EPS = 1e-5;

/**
 * (x - mean) / sqrt(var + eps) over the rows of x [N, C], the variance biased (as torch normalises),
 * then `* weight + bias` when both are given (affine). A new tensor.
 *
 * @example batchNorm(h, params['head.1.weight'], params['head.1.bias'])
 */
export function batchNorm(x: tf.Tensor2D, weight?: tf.Tensor, bias?: tf.Tensor, eps = BATCH_NORM_EPS): tf.Tensor2D {
  if ((weight === undefined) !== (bias === undefined)) throw new Error('batchNorm: give both weight and bias, or neither');
  if (x.shape[0] < 2) throw new Error(`batchNorm: batch statistics need >= 2 rows, got [${x.shape}]`);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 0, true);
    const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return (weight && bias ? tf.add(tf.mul(y, weight), bias) : y) as tf.Tensor2D;
  });
}
