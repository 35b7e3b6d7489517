// A Vision Transformer as pure functions of (config, parameters, images), with timm's parameter names.
// One forward covers the three ways masked-prediction methods run an encoder:
//   - all tokens;
//   - only the kept tokens (MAE-style dropping: position embeddings are added before dropping, so a
//     dropped token never takes part in attention);
//   - every token, with a mask token substituted at masked positions (SimMIM/BEiT-style).
// Several kept sets of one image can share a row as `segments`: each gets its own class token and
// attends only within itself (several masking rounds in one pass, no padding).
// It can return intermediate block outputs; `vitFeatures` gives CLS or average-pooled features.
// `inference: true` (frozen features, nothing differentiated) lets the native backend run fused ops.
import * as tf from '@tensorflow/tfjs-core';
import { gatherTokens, replaceMasked } from '../masking/gather.js';
import { blockParamShapes, transformerBlock } from '../nn/block.js';
import { segmentBias } from '../nn/attention.js';
import { linear } from '../nn/linear.js';
import { fusedLayerNorm, inferenceScope } from '../nn/native-ops.js';
import { makeVariable, param, xavierUniform, type ParamTree, type VariableTree } from '../nn/params.js';
import { repeatToken } from '../nn/repeat-token.js';
import type { Rng } from '../util/rng.js';
import { gridSize, numPatches, type VitConfig } from './config.js';
import { patchify } from './patchify.js';
import { sinCos2dPosEmbed } from './pos-embed.js';

export interface Vit {
  config: VitConfig;
  /** Trainable variables plus the frozen `pos_embed`. */
  params: VariableTree;
}

/** Names and shapes of every backbone parameter. */
export function vitParamShapes(c: VitConfig): Record<string, number[]> {
  const d = c.embedDim;
  const shapes: Record<string, number[]> = {
    'patch_embed.proj.weight': [c.patchSize * c.patchSize * c.inChannels, d],
    'patch_embed.proj.bias': [d],
    pos_embed: [1, numPatches(c) + (c.classToken ? 1 : 0), d],
  };
  if (c.classToken) shapes.cls_token = [1, 1, d];
  for (let i = 0; i < c.depth; i++) Object.assign(shapes, blockParamShapes(`blocks.${i}`, d, d * c.mlpRatio));
  shapes['norm.weight'] = [d];
  shapes['norm.bias'] = [d];
  return shapes;
}

/**
 * A new ViT initialised as MAE/MOCA do: xavier-uniform for every linear (the patch projection seen as a
 * [p*p*C, D] matrix), zero biases, unit norm scales, N(0, 0.02) class token, fixed sin-cos positions.
 */
export function createVit(config: VitConfig, rng: Rng, owner = 'vit'): Vit {
  const params: VariableTree = {};
  for (const [name, shape] of Object.entries(vitParamShapes(config))) {
    let values: Float32Array | 'zeros' | 'ones';
    let trainable = true;
    if (name === 'pos_embed') {
      values = sinCos2dPosEmbed(config.embedDim, gridSize(config), gridSize(config), config.classToken);
      trainable = false;
    } else if (name === 'cls_token') values = rng.normalArray(config.embedDim, 0, 0.02);
    else if (shape.length === 2) values = xavierUniform(rng, shape[0]!, shape[1]!);
    else if (name.endsWith('norm1.weight') || name.endsWith('norm2.weight') || name === 'norm.weight') values = 'ones';
    else values = 'zeros';
    params[name] = makeVariable(owner, name, shape, values, trainable);
  }
  return { config, params };
}

export interface VitForwardOptions {
  /** [B, K] int32 patch indices to keep; the others are dropped before the blocks. */
  keep?: tf.Tensor2D;
  /**
   * Sizes of consecutive independent sequences in the kept patches (`keep`'s K, or N without it;
   * they must sum to it): each segment gets its own class token in front and attends only within
   * itself, so its outputs are those it would have run alone. `tokens` are then [cls, segment 1,
   * cls, segment 2, ...] (segmentPatchTokens splits them).
   */
  segments?: number[];
  /** [B, N] float, 1 where the patch is replaced by `maskToken` (before position embedding). */
  mask?: tf.Tensor2D;
  /** [D] or [1, 1, D]: the learnable mask token (owned by the method) used with `mask`. */
  maskToken?: tf.Tensor;
  /** Block indices (0-based) whose outputs, before the final norm, are returned too. */
  collect?: number[];
  /**
   * Inference only: on native TensorFlow, each MLP runs as fused oneDNN kernels (matmul + bias +
   * exact GELU, matmul + bias) and each LayerNorm as one op (the same function to float rounding,
   * ~1e-6 relative). Never differentiable, so it is ignored (the ordinary ops run) while a gradient
   * is being recorded.
   */
  inference?: boolean;
}

// A type alias (not an interface) so tf.tidy accepts it as a tensor container.
export type VitOutput = {
  /** [B, T, D] after the final norm; T = (class token ? 1 : 0) + kept patches, class token first (per segment). */
  tokens: tf.Tensor3D;
  /** Outputs of the `collect` blocks, in that order (before the final norm). */
  intermediates: tf.Tensor3D[];
};

/** Patch embedding (a linear map on patches, identical to a stride-p convolution): [B,H,W,C] -> [B,N,D]. */
export function embedPatches(c: VitConfig, params: ParamTree, images: tf.Tensor4D): tf.Tensor3D {
  const [, h, w, ch] = images.shape;
  if (h !== c.imageSize || w !== c.imageSize || ch !== c.inChannels) {
    throw new Error(`ViT expects images [B, ${c.imageSize}, ${c.imageSize}, ${c.inChannels}], got [${images.shape}]`);
  }
  return tf.tidy(
    () => linear(patchify(images, c.patchSize), param(params, 'patch_embed.proj.weight'), param(params, 'patch_embed.proj.bias')) as tf.Tensor3D,
  );
}

/**
 * Runs the blocks and final norm over an already-embedded sequence [B, T, D]; `attentionBias`
 * (segmentBias) is added to every block's attention logits.
 */
export function encodeTokens(c: VitConfig, params: ParamTree, tokens: tf.Tensor3D, collect: number[] = [], attentionBias?: tf.Tensor): VitOutput {
  for (const i of collect) {
    if (!Number.isInteger(i) || i < 0 || i >= c.depth) throw new Error(`collect: block ${i} is outside 0..${c.depth - 1}`);
  }
  return tf.tidy(() => {
    let x = tokens;
    const byBlock = new Map<number, tf.Tensor3D>();
    for (let i = 0; i < c.depth; i++) {
      x = transformerBlock(x, params, `blocks.${i}`, c.numHeads, c.layerNormEps, attentionBias);
      if (collect.includes(i)) byBlock.set(i, x);
    }
    const out = fusedLayerNorm(x, param(params, 'norm.weight'), param(params, 'norm.bias'), c.layerNormEps) as tf.Tensor3D;
    return { tokens: out, intermediates: collect.map((i) => byBlock.get(i)!) };
  });
}

/** The ViT forward: images [B, H, W, C] -> tokens (see VitForwardOptions for the masked variants). */
export function vitForward(c: VitConfig, params: ParamTree, images: tf.Tensor4D, options: VitForwardOptions = {}): VitOutput {
  if (options.mask && !options.maskToken) throw new Error('vitForward: `mask` needs `maskToken`');
  if (options.inference) return inferenceScope(() => vitForward(c, params, images, { ...options, inference: false }));
  return tf.tidy(() => {
    let x = embedPatches(c, params, images);
    if (options.mask) x = replaceMasked(x, options.mask, options.maskToken!) as tf.Tensor3D;
    const pos = param(params, 'pos_embed');
    const offset = c.classToken ? 1 : 0;
    x = tf.add(x, tf.slice(pos, [0, offset, 0], [1, numPatches(c), c.embedDim])) as tf.Tensor3D;
    if (options.keep) x = gatherTokens(x, options.keep);
    const segments = options.segments ?? [x.shape[1]];
    if (segments.some((n) => !Number.isInteger(n) || n < 1) || segments.reduce((a, n) => a + n, 0) !== x.shape[1]) {
      throw new Error(`vitForward: segments [${segments.join(', ')}] must be positive integers summing to the ${x.shape[1]} patch tokens the blocks see`);
    }
    if (c.classToken) {
      const cls = repeatToken(tf.add(param(params, 'cls_token'), tf.slice(pos, [0, 0, 0], [1, 1, c.embedDim])), x.shape[0], 1);
      const parts = segments.length > 1 ? tf.split(x, segments, 1) : [x];
      x = tf.concat(parts.flatMap((part) => [cls, part]), 1) as tf.Tensor3D;
    }
    const bias = segments.length > 1 ? segmentBias(segments.map((n) => n + offset)) : undefined;
    return encodeTokens(c, params, x, options.collect ?? [], bias);
  });
}

/** The patch tokens of each segment (class tokens dropped) of a vitForward output run with `segments`. */
export function segmentPatchTokens(c: VitConfig, tokens: tf.Tensor3D, segments: number[]): tf.Tensor3D[] {
  const offset = c.classToken ? 1 : 0;
  const expected = segments.reduce((a, n) => a + n + offset, 0);
  if (tokens.shape[1] !== expected) {
    throw new Error(`segmentPatchTokens: segments [${segments.join(', ')}] need ${expected} tokens per row, got ${tokens.shape[1]}`);
  }
  let start = 0;
  return segments.map((n) => {
    const part = tf.slice(tokens, [0, start + offset, 0], [-1, n, -1]);
    start += offset + n;
    return part;
  });
}

/** Image features from the final tokens: the mean over patch tokens ('avg') or the class token ('cls'). */
export function vitFeatures(c: VitConfig, tokens: tf.Tensor3D, pool: 'avg' | 'cls' = 'avg'): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, t, d] = tokens.shape;
    if (pool === 'cls') {
      if (!c.classToken) throw new Error("vitFeatures: pool 'cls' needs a ViT with a class token");
      return tf.reshape(tf.slice(tokens, [0, 0, 0], [b, 1, d]), [b, d]) as tf.Tensor2D;
    }
    const offset = c.classToken ? 1 : 0;
    return tf.mean(tf.slice(tokens, [0, offset, 0], [b, t - offset, d]), 1) as tf.Tensor2D;
  });
}
