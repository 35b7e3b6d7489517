// Pre-norm transformer block as timm's `Block`: x + Attn(LN(x)), then x + MLP(LN(x)), MLP = fc1, GELU, fc2.
// The MLP folds GELU's constants into the (small) weights: with c = -1/sqrt 2, fc1 run with c*W1, c*b1
// gives a = c*z, GELU(z) = c * a * erfc(a) (gelu.ts), and that factor c goes into fc2's weight, so the
// activation costs two elementwise ops on the [B, N, 4D] hidden tensor instead of five.
import * as tf from '@tensorflow/tfjs-core';
import { param, type ParamTree } from './params.js';
import { selfAttention } from './attention.js';
import { erfcGate } from './gelu.js';
import { layerNorm } from './layer-norm.js';
import { linear } from './linear.js';

export function mlp(x: tf.Tensor, params: ParamTree, prefix: string): tf.Tensor {
  return tf.tidy(() => {
    const c = -Math.SQRT1_2;
    const a = linear(x, tf.mul(param(params, `${prefix}.fc1.weight`), c), tf.mul(param(params, `${prefix}.fc1.bias`), c));
    return linear(erfcGate(a), tf.mul(param(params, `${prefix}.fc2.weight`), c), param(params, `${prefix}.fc2.bias`));
  });
}

/** One block; parameters under `<prefix>.norm1`, `.attn`, `.norm2`, `.mlp`. x: [B, N, D]. */
export function transformerBlock(
  x: tf.Tensor3D,
  params: ParamTree,
  prefix: string,
  numHeads: number,
  eps = 1e-6,
): tf.Tensor3D {
  return tf.tidy(() => {
    const n1 = layerNorm(x, param(params, `${prefix}.norm1.weight`), param(params, `${prefix}.norm1.bias`), eps);
    const h = tf.add(x, selfAttention(n1 as tf.Tensor3D, params, `${prefix}.attn`, numHeads));
    const n2 = layerNorm(h, param(params, `${prefix}.norm2.weight`), param(params, `${prefix}.norm2.bias`), eps);
    return tf.add(h, mlp(n2, params, `${prefix}.mlp`)) as tf.Tensor3D;
  });
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
