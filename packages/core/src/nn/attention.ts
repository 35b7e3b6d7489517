// Multi-head self-attention with one fused qkv projection (bias included), as timm's `Attention`.
// Parameters under `<prefix>.qkv.{weight,bias}` ([D, 3D], columns ordered q|k|v, heads within each)
// and `<prefix>.proj.{weight,bias}`. The 1/sqrt(hd) scale is folded into the q columns of the (small)
// projection weight and bias instead of multiplying q, and the softmax-attention between the two
// projections has a hand-written gradient: with P = softmax(q k^T) and O = P v,
//   dv = P^T dO,  dP = dO v^T,  dS = P * (dP - rowsum(dP * P)),  dq = dS k,  dk = dS^T q,
// four batched matmuls and four elementwise ops, taken straight back to the [B, N, 3D] layout.
// An optional key bias (keyPaddingBias) hides padding keys: it is added to q k^T before the softmax,
// so their attention weights are exactly 0 and the gradient formula above is unchanged (the bias is a
// constant). The padded rows (queries) still get outputs, which the caller ignores.
import * as tf from '@tensorflow/tfjs-core';
import { param, type ParamTree } from './params.js';
import { linear } from './linear.js';

/** A large negative logit: exp of it underflows to 0 against any real attention score. */
const HIDDEN = -1e9;

/**
 * valid [B, N] (1 for a real token, 0 for padding) -> the additive key bias [B, 1, 1, N] (0 or -1e9)
 * that selfAttention / transformerBlock take to let no query attend to a padding key.
 */
export function keyPaddingBias(valid: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(tf.mul(tf.sub(1, valid), HIDDEN), [valid.shape[0], 1, 1, valid.shape[1]]) as tf.Tensor4D);
}

/** [B, N, 3D] (q|k|v, q pre-scaled) -> [B, N, D]: softmax(q k^T + keyBias) v per head, heads concatenated. */
function softmaxAttention(qkv: tf.Tensor3D, numHeads: number, keyBias?: tf.Tensor): tf.Tensor3D {
  const [b, n, d3] = qkv.shape;
  const d = d3 / 3;
  const headDim = d / numHeads;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    // [B, N, 3, H, hd] -> [3, B, H, N, hd]
    const heads = tf.transpose(tf.reshape(input, [b, n, 3, numHeads, headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(heads, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const scores = tf.matMul(q, k, false, true); // [B, H, N, N]
    const p = tf.softmax(keyBias ? tf.add(scores, keyBias) : scores, -1);
    const out = tf.matMul(p, v); // [B, H, N, hd]
    save([q, k, v, p]);
    return {
      value: tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, n, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dOut = tf.transpose(tf.reshape(dy, [b, n, numHeads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D;
        const dv = tf.matMul(sp, dOut, true, false);
        const dp = tf.matMul(dOut, sv, false, true);
        const ds = tf.mul(sp, tf.sub(dp, tf.sum(tf.mul(dp, sp), -1, true))) as tf.Tensor4D;
        const dq = tf.matMul(ds, sk);
        const dk = tf.matMul(ds, sq, true, false);
        // [3, B, H, N, hd] -> [B, N, 3, H, hd]
        return tf.reshape(tf.transpose(tf.stack([dq, dk, dv]), [1, 3, 0, 2, 4]), [b, n, d3]);
      },
    };
  });
  return f(qkv) as tf.Tensor3D;
}

/** Multiplies the q columns of a [.., 3D] qkv weight or bias by `scale`. */
function scaleQ(t: tf.Tensor, d: number, scale: number): tf.Tensor {
  const cols = new Float32Array(3 * d).fill(1).fill(scale, 0, d);
  return tf.mul(t, tf.tensor1d(cols));
}

/** x: [B, N, D] -> [B, N, D]; keyBias [B, 1, 1, N] from keyPaddingBias hides padding keys. */
export function selfAttention(x: tf.Tensor3D, params: ParamTree, prefix: string, numHeads: number, keyBias?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const d = x.shape[2];
    const scale = 1 / Math.sqrt(d / numHeads);
    const w = scaleQ(param(params, `${prefix}.qkv.weight`), d, scale);
    const bias = scaleQ(param(params, `${prefix}.qkv.bias`), d, scale);
    const merged = softmaxAttention(linear(x, w, bias) as tf.Tensor3D, numHeads, keyBias);
    return linear(merged, param(params, `${prefix}.proj.weight`), param(params, `${prefix}.proj.bias`)) as tf.Tensor3D;
  });
}
