// Layer normalisation over the last axis, with a learned scale and shift (eps 1e-6 as in MAE/timm ViTs).
// Hand-written gradient: with xhat = (x - mean) * rstd and g = dy * weight,
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dweight = sum(dy * xhat),  dbias = sum(dy)
// (sums over every axis but the last): eleven ops instead of the ~30 of autodiff through moments.
// `normalize` is the same without scale and shift (dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
// seven ops), for a caller that folds them into the linear map that follows (block.ts).
import * as tf from '@tensorflow/tfjs-core';

/** (x - mean) / sqrt(var + eps) over the last axis. */
export function normalize(x: tf.Tensor, eps = 1e-6): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const centred = tf.sub(input, tf.mean(input, -1, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
    const xhat = tf.mul(centred, rstd);
    save([xhat, rstd]);
    return {
      value: xhat,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sXhat, sRstd] = saved as [tf.Tensor, tf.Tensor];
        const dyXhat = tf.mean(tf.mul(dy, sXhat), -1, true);
        return tf.mul(tf.sub(tf.sub(dy, tf.mean(dy, -1, true)), tf.mul(sXhat, dyXhat)), sRstd);
      },
    };
  });
  return f(x);
}

export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps = 1e-6): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, w, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const save = args[3] as tf.GradSaveFunc;
    const centred = tf.sub(input, tf.mean(input, -1, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
    const xhat = tf.mul(centred, rstd);
    save([xhat, rstd, w]);
    return {
      value: tf.add(tf.mul(xhat, w), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sXhat, sRstd, sW] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const rows = dy.shape.slice(0, -1).map((_, i) => i);
        const dyXhat = tf.mul(dy, sXhat);
        const g = tf.mul(dy, sW);
        const gXhat = tf.mul(dyXhat, sW);
        const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(sXhat, tf.mean(gXhat, -1, true))), sRstd);
        const overRows = (t: tf.Tensor) => (rows.length > 0 ? tf.sum(t, rows) : t);
        return [dx, tf.reshape(overRows(dyXhat), sW.shape), tf.reshape(overRows(dy), b.shape)];
      },
    };
  });
  return f(x, weight, bias);
}
