// Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), as torch.nn.GELU() (not the tanh approximation).
// Written through the "erfc gate" g(a) = a * erfc(a): with a = -x / sqrt 2, Phi(x) = erfc(a) / 2, so
// GELU(x) = -g(a) / sqrt 2. g has a hand-written gradient (a few large ops instead of the ~13 of
// autodiff through the erf form), and the MLP folds both constants into its weights (block.ts), so
// there the activation is the two ops of g alone.
import * as tf from '@tensorflow/tfjs-core';
import { erfc } from './native-ops.js';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * g(a) = a * erfc(a), with g'(a) = erfc(a) - (2 / sqrt pi) a exp(-a^2). The gradient divides by
 * exp(a^2) instead of multiplying by exp(-a^2) (one op fewer); for |a| > 9.4 that is a / inf = 0,
 * the correct limit.
 */
export const erfcGate = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const a = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const e = erfc(a);
  save([a, e]);
  return {
    value: tf.mul(a, e),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, se] = saved as [tf.Tensor, tf.Tensor];
      const slope = tf.sub(se, tf.div(tf.mul(sa, TWO_OVER_SQRT_PI), tf.exp(tf.square(sa))));
      return tf.mul(dy, slope);
    },
  };
}) as (a: tf.Tensor) => tf.Tensor;

export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(erfcGate(tf.mul(x, -Math.SQRT1_2)), -Math.SQRT1_2));
}
