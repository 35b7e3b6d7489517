// The loss and its gradients with respect to a named parameter record, keyed by our parameter names
// (tf.variableGrads keys them by the backend-unique variable names).
import * as tf from '@tensorflow/tfjs-core';
import type { VariableTree } from '../nn/params.js';

/**
 * Evaluates `loss` and the gradient of every trainable variable of `params` it depends on. The caller
 * owns (and disposes) `value` and `grads`; variables that do not affect the loss get no entry.
 */
export function valueAndGrads(loss: () => tf.Scalar, params: VariableTree): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const names = Object.keys(params).filter((n) => params[n]!.trainable);
  const { value, grads } = tf.variableGrads(loss, names.map((n) => params[n]!));
  const byName: Record<string, tf.Tensor> = {};
  for (const n of names) {
    const g = grads[params[n]!.name];
    if (g) byName[n] = g;
  }
  return { value, grads: byName };
}
