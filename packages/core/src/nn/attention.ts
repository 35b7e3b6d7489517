// Multi-head self-attention with one fused qkv projection (bias included), as timm's `Attention`.
// Parameters under `<prefix>.qkv.{weight,bias}` ([D, 3D], columns ordered q|k|v, heads within each)
// and `<prefix>.proj.{weight,bias}`.
import * as tf from '@tensorflow/tfjs-core';
import { param, type ParamTree } from './params.js';
import { linear } from './linear.js';

/** x: [B, N, D] -> [B, N, D]. */
export function selfAttention(x: tf.Tensor3D, params: ParamTree, prefix: string, numHeads: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, n, d] = x.shape;
    const headDim = d / numHeads;
    const qkv = linear(x, param(params, `${prefix}.qkv.weight`), param(params, `${prefix}.qkv.bias`));
    // [B, N, 3, H, hd] -> [3, B, H, N, hd]
    const heads = tf.transpose(tf.reshape(qkv, [b, n, 3, numHeads, headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(heads, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(headDim)), k, false, true); // [B, H, N, N]
    const attn = tf.softmax(scores, -1);
    const out = tf.matMul(attn, v); // [B, H, N, hd]
    const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, n, d]);
    return linear(merged, param(params, `${prefix}.proj.weight`), param(params, `${prefix}.proj.bias`)) as tf.Tensor3D;
  });
}
