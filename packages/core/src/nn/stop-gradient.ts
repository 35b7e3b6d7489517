// stopGradient: the identity in the forward pass, a zero gradient in the backward pass (torch's
// `.detach()`) for a tensor that is a target: codebooks, queues, a computed target. Whole forward
// passes that only make targets (teachers, momentum branches) run under noGrad (no-grad.ts) instead,
// which records nothing at all.
import * as tf from '@tensorflow/tfjs-core';

export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return f(x) as T;
}
