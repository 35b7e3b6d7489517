// Finite-difference gradient check: compares tf.grads of a scalar function with central differences,
// element by element, for small inputs. float32 only, so tolerances are ~1e-2 relative.
import * as tf from '@tensorflow/tfjs-core';

export interface GradcheckResult {
  worstRel: number;
  checked: number;
}

/**
 * f maps the inputs to a scalar. Each input element is perturbed by +-eps; the numeric derivative is
 * compared with the analytic one relative to max(|analytic|, |numeric|, floor).
 */
export function gradcheck(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  { eps = 1e-2, floor = 1e-2 }: { eps?: number; floor?: number } = {},
): GradcheckResult {
  const analytic = tf.tidy(() => tf.grads((...xs: tf.Tensor[]) => f(...xs))(inputs).map((g) => g.dataSync().slice()));
  let worstRel = 0;
  let checked = 0;
  inputs.forEach((input, k) => {
    const base = input.dataSync().slice() as Float32Array;
    for (let i = 0; i < base.length; i++) {
      const evalAt = (delta: number) =>
        tf.tidy(() => {
          const v = base.slice();
          v[i] = v[i]! + delta;
          const xs = inputs.map((t, j) => (j === k ? tf.tensor(v, input.shape) : t));
          return f(...xs).dataSync()[0]!;
        });
      const numeric = (evalAt(eps) - evalAt(-eps)) / (2 * eps);
      const a = analytic[k]![i]!;
      const rel = Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), floor);
      worstRel = Math.max(worstRel, rel);
      checked++;
    }
  });
  return { worstRel, checked };
}
