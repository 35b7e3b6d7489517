// Affine map over the last axis: y = x W + b with W stored [in, out]. Any leading shape is folded into
// one [rows, in] matrix. A hand-written gradient (dx = dy W^T, dW = x^T dy, db = column sums of dy)
// lets every product run as TensorFlow's 2-D MatMul on the native backend (native-ops.ts).
import * as tf from '@tensorflow/tfjs-core';
import { matMul2d } from './native-ops.js';

const affine = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  const save = args[3] as tf.GradSaveFunc;
  save([x, w]);
  return {
    value: tf.add(matMul2d(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [matMul2d(dy, sw, false, true), matMul2d(sx, dy, true, false), tf.sum(dy, 0)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor) => tf.Tensor2D;

const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w] = args as [tf.Tensor2D, tf.Tensor2D];
  const save = args[2] as tf.GradSaveFunc;
  save([x, w]);
  return {
    value: matMul2d(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [matMul2d(dy, sw, false, true), matMul2d(sx, dy, true, false)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = weight.shape[0]!;
  const outDim = weight.shape[1]!;
  if (x.shape[x.rank - 1] !== inDim) {
    throw new Error(`linear: input last dim ${x.shape[x.rank - 1]} does not match weight [${weight.shape}]`);
  }
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, inDim]) as tf.Tensor2D);
    const w = weight as tf.Tensor2D;
    const y = bias ? affine(flat, w, tf.reshape(bias, [outDim])) : product(flat, w);
    return x.rank === 2 ? y : tf.reshape(y, [...lead, outDim]);
  });
}
