// Multi-head self-attention with one fused qkv projection (bias included), as timm's `Attention`.
// Parameters under `<prefix>.qkv.{weight,bias}` ([D, 3D], columns ordered q|k|v, heads within each)
// and `<prefix>.proj.{weight,bias}`. The 1/sqrt(hd) scale is folded into the q columns of the (small)
// projection weight and bias instead of multiplying q, and the softmax-attention between the two
// projections has a hand-written gradient: with P = softmax(q k^T) and O = P v,
//   dv = P^T dO,  dP = dO v^T,  dS = P * (dP - rowsum(dP * P)),  dq = dS k,  dk = dS^T q,
// four batched matmuls and four elementwise ops, taken straight back to the [B, N, 3D] layout.
// An optional additive bias (segmentBias) hides keys from queries: it is added to q k^T before the
// softmax, so those attention weights are exactly 0 and the gradient formula above is unchanged (the
// bias is a constant). With it, several independent sequences packed into one row attend only within
// themselves, each as if it ran alone.
import * as tf from '@tensorflow/tfjs-core';
import { param, type ParamTree } from './params.js';
import { linear } from './linear.js';

/** A large negative logit: exp of it underflows to 0 against any real attention score. */
const HIDDEN = -1e9;

/**
 * The attention bias [1, 1, N, N] (N = sum of `sizes`) for consecutive segments of a row, each its own
 * sequence: 0 where query and key lie in the same segment, -1e9 elsewhere (block-diagonal), for
 * selfAttention / transformerBlock.
 */
export function segmentBias(sizes: readonly number[]): tf.Tensor4D {
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new Error(`segmentBias: segment sizes must be positive integers, got [${sizes.join(', ')}]`);
  }
  const n = sizes.reduce((a, s) => a + s, 0);
  const bias = new Float32Array(n * n).fill(HIDDEN);
  let start = 0;
  for (const s of sizes) {
    for (let q = start; q < start + s; q++) bias.fill(0, q * n + start, q * n + start + s);
    start += s;
  }
  return tf.tensor4d(bias, [1, 1, n, n]);
}

/** [B, N, 3D] (q|k|v, q pre-scaled) -> [B, N, D]: softmax(q k^T + bias) v per head, heads concatenated. */
function softmaxAttention(qkv: tf.Tensor3D, numHeads: number, bias?: tf.Tensor): tf.Tensor3D {
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
    const p = tf.softmax(bias ? tf.add(scores, bias) : scores, -1);
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

/** x: [B, N, D] -> [B, N, D]; `bias` (broadcast to [B, H, N, N], e.g. segmentBias) is added to the attention logits. */
export function selfAttention(x: tf.Tensor3D, params: ParamTree, prefix: string, numHeads: number, bias?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const d = x.shape[2];
    const scale = 1 / Math.sqrt(d / numHeads);
    const w = scaleQ(param(params, `${prefix}.qkv.weight`), d, scale);
    const qkvBias = scaleQ(param(params, `${prefix}.qkv.bias`), d, scale);
    const merged = softmaxAttention(linear(x, w, qkvBias) as tf.Tensor3D, numHeads, bias);
    return linear(merged, param(params, `${prefix}.proj.weight`), param(params, `${prefix}.proj.bias`)) as tf.Tensor3D;
  });
}
