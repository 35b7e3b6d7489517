// stopGradient: the identity in the forward pass, a zero gradient in the backward pass (torch's
// `.detach()` / `torch.no_grad()`) for teachers, momentum branches, codebooks and queues. The trainer
// never differentiates with respect to frozen variables anyway; this makes such targets constants for
// any caller that would.
import * as tf from '@tensorflow/tfjs-core';

export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return f(x) as T;
}
