// Pre-norm transformer block as timm's `Block`: x + Attn(LN(x)), then x + MLP(LN(x)), MLP = fc1, GELU, fc2.
// The MLP folds GELU's constants into the (small) weights: with c = -1/sqrt 2, fc1 run with c*W1, c*b1
// gives a = c*z, GELU(z) = c * a * erfc(a) (gelu.ts), and that factor c goes into fc2's weight, so the
// activation costs two elementwise ops on the [B, N, 4D] hidden tensor instead of five. Likewise each
// norm's scale and shift are folded into the linear map after it: LN(x) W + c = xhat (diag(g) W) + (b W + c).
// Inside `inferenceScope` with the fused native ops (nothing differentiated), the block runs unfolded
// instead: each norm one op with its own scale and shift, fc1 + bias + exact GELU one kernel, fc2 +
// bias another (native-ops.ts).
import * as tf from '@tensorflow/tfjs-core';
import { param, type ParamTree } from './params.js';
import { selfAttention } from './attention.js';
import { erfcGate } from './gelu.js';
import { normalize } from './layer-norm.js';
import { linear } from './linear.js';
import { fusedInference, fusedLayerNorm, fusedMatMul } from './native-ops.js';

export function mlp(x: tf.Tensor, params: ParamTree, prefix: string): tf.Tensor {
  return tf.tidy(() => {
    const c = -Math.SQRT1_2;
    const a = linear(x, tf.mul(param(params, `${prefix}.fc1.weight`), c), tf.mul(param(params, `${prefix}.fc1.bias`), c));
    return linear(erfcGate(a), tf.mul(param(params, `${prefix}.fc2.weight`), c), param(params, `${prefix}.fc2.bias`));
  });
}

/**
 * One block; parameters under `<prefix>.norm1`, `.attn`, `.norm2`, `.mlp`. x: [B, N, D]; `attentionBias`
 * (segmentBias) is added to the attention logits, so packed segments attend only within themselves.
 */
export function transformerBlock(
  x: tf.Tensor3D,
  params: ParamTree,
  prefix: string,
  numHeads: number,
  eps = 1e-6,
  attentionBias?: tf.Tensor,
): tf.Tensor3D {
  if (fusedInference()) return inferenceBlock(x, params, prefix, numHeads, eps, attentionBias);
  return tf.tidy(() => {
    const attnParams = foldNorm(params, `${prefix}.norm1`, `${prefix}.attn.qkv`);
    const h = tf.add(x, selfAttention(normalize(x, eps) as tf.Tensor3D, attnParams, `${prefix}.attn`, numHeads, attentionBias));
    const mlpParams = foldNorm(params, `${prefix}.norm2`, `${prefix}.mlp.fc1`);
    return tf.add(h, mlp(normalize(h, eps), mlpParams, `${prefix}.mlp`)) as tf.Tensor3D;
  });
}

/** The block with the fused inference ops (only when `fusedInference()`): the same function, no gradient. */
function inferenceBlock(x: tf.Tensor3D, params: ParamTree, prefix: string, numHeads: number, eps: number, attentionBias?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, n, d] = x.shape;
    const p = (name: string) => param(params, `${prefix}.${name}`);
    const norm1 = fusedLayerNorm(x, p('norm1.weight'), p('norm1.bias'), eps) as tf.Tensor3D;
    const h = tf.add(x, selfAttention(norm1, params, `${prefix}.attn`, numHeads, attentionBias));
    const norm2 = fusedLayerNorm(tf.reshape(h, [b * n, d]), p('norm2.weight'), p('norm2.bias'), eps);
    const hidden = fusedMatMul(norm2, p('mlp.fc1.weight'), p('mlp.fc1.bias'), 'gelu');
    return tf.add(h, tf.reshape(fusedMatMul(hidden, p('mlp.fc2.weight'), p('mlp.fc2.bias')), [b, n, d])) as tf.Tensor3D;
  });
}

/** `params` with the linear map `<linear>` replaced by LN `<norm>`'s scale and shift followed by it. */
function foldNorm(params: ParamTree, norm: string, linear: string): ParamTree {
  const g = param(params, `${norm}.weight`);
  const b = param(params, `${norm}.bias`);
  const w = param(params, `${linear}.weight`);
  const c = param(params, `${linear}.bias`);
  return {
    ...params,
    [`${linear}.weight`]: tf.mul(tf.reshape(g, [-1, 1]), w),
    [`${linear}.bias`]: tf.add(tf.reshape(tf.matMul(tf.reshape(b, [1, -1]), w as tf.Tensor2D), [-1]), c),
  };
}

/** Names and shapes of one block's parameters (initialised by vit/vit.ts). */
export function blockParamShapes(prefix: string, dim: number, mlpDim: number): Record<string, number[]> {
  return {
    [`${prefix}.norm1.weight`]: [dim],
    [`${prefix}.norm1.bias`]: [dim],
    [`${prefix}.attn.qkv.weight`]: [dim, 3 * dim],
    [`${prefix}.attn.qkv.bias`]: [3 * dim],
    [`${prefix}.attn.proj.weight`]: [dim, dim],
    [`${prefix}.attn.proj.bias`]: [dim],
    [`${prefix}.norm2.weight`]: [dim],
    [`${prefix}.norm2.bias`]: [dim],
    [`${prefix}.mlp.fc1.weight`]: [dim, mlpDim],
    [`${prefix}.mlp.fc1.bias`]: [mlpDim],
    [`${prefix}.mlp.fc2.weight`]: [mlpDim, dim],
    [`${prefix}.mlp.fc2.bias`]: [dim],
  };
}
