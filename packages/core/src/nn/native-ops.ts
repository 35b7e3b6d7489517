// TensorFlow ops that tfjs does not expose, run directly through tfjs-node's backend when the
// backend is native TensorFlow ('tensorflow'), else as a tfjs composite. A direct call bypasses the
// tfjs gradient tape: use these only inside a tf.customGrad forward or gradient function (or where
// nothing is differentiated). The returned tensor is tracked by the enclosing tf.tidy as usual.
import * as tf from '@tensorflow/tfjs-core';

interface NodeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_BOOL: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.Tensor[]): tf.Tensor;
}

function nodeBackend(): NodeBackend | null {
  return tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as NodeBackend) : null;
}

/** erfc(x) = 1 - erf(x) for float32 x: TensorFlow's Erfc (accurate for large x), else 1 - erf(x). */
export function erfc(x: tf.Tensor): tf.Tensor {
  const be = nodeBackend();
  if (!be) return tf.sub(1, tf.erf(x));
  return be.executeSingleOutput('Erfc', [{ name: 'T', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_FLOAT }], [x]);
}

/**
 * a [M, K] (or [K, M] with transposeA) times b [K, N] (or [N, K]) for float32 2-D tensors: TensorFlow's
 * MatMul (tfjs routes every matMul through BatchMatMulV2 on [1, M, K], 5-10% slower here), else tf.matMul.
 */
export function matMul2d(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor2D {
  const be = nodeBackend();
  if (!be) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, transposeA, transposeB);
  const { TF_ATTR_TYPE, TF_ATTR_BOOL, TF_FLOAT } = be.binding;
  return be.executeSingleOutput(
    'MatMul',
    [
      { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
      { name: 'transpose_a', type: TF_ATTR_BOOL, value: transposeA },
      { name: 'transpose_b', type: TF_ATTR_BOOL, value: transposeB },
    ],
    [a, b],
  ) as tf.Tensor2D;
}
