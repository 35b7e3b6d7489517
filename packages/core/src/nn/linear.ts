// Affine map over the last axis: y = x W + b with W stored [in, out]. Any leading shape is folded into
// one matrix so the backend runs a single fused 2-D matmul-with-bias.
import * as tf from '@tensorflow/tfjs-core';

export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = weight.shape[0]!;
  const outDim = weight.shape[1]!;
  if (x.shape[x.rank - 1] !== inDim) {
    throw new Error(`linear: input last dim ${x.shape[x.rank - 1]} does not match weight [${weight.shape}]`);
  }
  const lead = x.shape.slice(0, -1);
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
  const y = tf.fused.matMul({ a: flat, b: weight as tf.Tensor2D, bias });
  return x.rank === 2 ? y : tf.reshape(y, [...lead, outDim]);
}
