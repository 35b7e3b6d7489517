// MOCA's token-level decoder (the reference's `*_cls_pt` modules), a small ViT over one masking round:
//   input  = [image embedding, LN_early(early-layer tokens of the visible positions)]
//            -> Linear(encoder width -> decoder width)
//            then one learned mask token per masked position M appended,
//   + fixed 2-D sin-cos position embedding (zero in the image-embedding slot, the patch rows gathered
//     at each token's position),
//   -> pre-norm blocks -> final LayerNorm -> the image-embedding slot dropped.
// It scores every position it holds: the round's visible ones first, then M, in the order given.
// Rounds of different sizes run as one batch with their visible sets padded to one length: the
// padding (visibleValid 0) is hidden from attention and its outputs are meaningless.
// Parameters: decoder.norm_early.*, decoder.embed.*, decoder.mask_token [1, 1, Dd],
// decoder.pos_embed [1, 1 + L, Dd] (frozen), decoder.blocks.<i>.*, decoder.norm.*.
import * as tf from '@tensorflow/tfjs-core';
import {
  blockParamShapes,
  keyPaddingBias,
  layerNorm,
  linear,
  makeVariable,
  repeatToken,
  param,
  sinCos2dPosEmbed,
  transformerBlock,
  xavierUniform,
  type ParamTree,
  type Rng,
  type VariableTree,
} from '@maskedssl/core';

export interface DecoderConfig {
  /** Encoder width (of the image embedding and early tokens). */
  inDim: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  /** Patch grid side (L = grid^2). */
  grid: number;
  /** MLP ratio of the decoder blocks (the reference uses the encoder's). */
  mlpRatio: number;
  layerNormEps: number;
}

export function decoderParamShapes(c: DecoderConfig): Record<string, number[]> {
  const d = c.embedDim;
  const shapes: Record<string, number[]> = {
    'decoder.norm_early.weight': [c.inDim],
    'decoder.norm_early.bias': [c.inDim],
    'decoder.embed.weight': [c.inDim, d],
    'decoder.embed.bias': [d],
    'decoder.mask_token': [1, 1, d],
    'decoder.pos_embed': [1, 1 + c.grid * c.grid, d],
  };
  for (let i = 0; i < c.depth; i++) Object.assign(shapes, blockParamShapes(`decoder.blocks.${i}`, d, Math.floor(d * c.mlpRatio)));
  shapes['decoder.norm.weight'] = [d];
  shapes['decoder.norm.bias'] = [d];
  return shapes;
}

/** New decoder variables: xavier-uniform linears, zero biases, unit LN scales, N(0, 0.02) mask token. */
export function createDecoder(c: DecoderConfig, rng: Rng, owner = 'moca'): VariableTree {
  const params: VariableTree = {};
  for (const [name, shape] of Object.entries(decoderParamShapes(c))) {
    let values: Float32Array | 'zeros' | 'ones';
    let trainable = true;
    if (name === 'decoder.pos_embed') {
      values = sinCos2dPosEmbed(c.embedDim, c.grid, c.grid, true);
      trainable = false;
    } else if (name === 'decoder.mask_token') values = rng.normalArray(c.embedDim, 0, 0.02);
    else if (shape.length === 2) values = xavierUniform(rng, shape[0]!, shape[1]!);
    else if (/norm\w*\.weight$/.test(name)) values = 'ones';
    else values = 'zeros';
    params[name] = makeVariable(owner, name, shape, values, trainable);
  }
  return params;
}

/**
 * One round: imageEmbedding [B, C], early [B, V, C] (the early block's visible patch tokens, before
 * LN_early), visible [B, V] and masked [B, M] int32 positions -> [B, V + M, Dd]. visibleValid [B, V]
 * (1 real, 0 padding) when the visible sets are padded.
 */
export function decoderForward(
  c: DecoderConfig,
  params: ParamTree,
  imageEmbedding: tf.Tensor2D,
  early: tf.Tensor3D,
  visible: tf.Tensor2D,
  masked: tf.Tensor2D,
  visibleValid?: tf.Tensor2D,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, v] = visible.shape;
    const m = masked.shape[1];
    const d = c.embedDim;
    const p = (name: string) => param(params, `decoder.${name}`);
    const normed = layerNorm(early, p('norm_early.weight'), p('norm_early.bias'), c.layerNormEps);
    const x = linear(tf.concat([tf.expandDims(imageEmbedding, 1), normed], 1), p('embed.weight'), p('embed.bias')) as tf.Tensor3D;
    const maskTokens = repeatToken(p('mask_token'), b, m);
    const patches = tf.concat([tf.slice(x, [0, 1, 0], [b, v, d]), maskTokens], 1);
    const pos = tf.reshape(p('pos_embed'), [-1, d]);
    const patchPos = tf.gather(tf.slice(pos, [1, 0], [-1, d]), tf.concat([visible, masked], 1)); // [B, V + M, Dd]
    const image = tf.add(tf.slice(x, [0, 0, 0], [b, 1, d]), tf.slice(pos, [0, 0], [1, d]));
    let h = tf.concat([image, tf.add(patches, patchPos)], 1) as tf.Tensor3D;
    const keyBias = visibleValid ? keyPaddingBias(tf.concat([tf.ones([b, 1]), visibleValid, tf.ones([b, m])], 1) as tf.Tensor2D) : undefined;
    for (let i = 0; i < c.depth; i++) h = transformerBlock(h, params, `decoder.blocks.${i}`, c.numHeads, c.layerNormEps, keyBias);
    h = layerNorm(h, p('norm.weight'), p('norm.bias'), c.layerNormEps) as tf.Tensor3D;
    return tf.slice(h, [0, 1, 0], [b, v + m, d]);
  });
}
