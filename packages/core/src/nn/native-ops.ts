// TensorFlow ops that tfjs does not expose, run directly through tfjs-node's backend when the
// backend is native TensorFlow ('tensorflow'), else as a tfjs composite. A direct call bypasses the
// tfjs gradient tape: use these only inside a tf.customGrad forward or gradient function (or where
// nothing is differentiated). The returned tensor is tracked by the enclosing tf.tidy as usual.
import * as tf from '@tensorflow/tfjs-core';

interface NodeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number };
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
