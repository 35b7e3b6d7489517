// MOCA's token-level decoder (the reference's `*_cls_pt` modules), a small ViT over one masking round:
//   input  = [image embedding, LN_early(early-layer tokens of the visible positions)]
//            -> Linear(encoder width -> decoder width)
//            then one learned mask token per masked position M appended,
//   + fixed 2-D sin-cos position embedding (zero in the image-embedding slot, the patch rows gathered
//     at each token's position),
//   -> pre-norm blocks -> final LayerNorm -> the image-embedding slot dropped.
// It scores every position it holds: the round's visible ones first, then M, in the order given.
// Several rounds of an image share one row, each its own sequence [embedding, visible, M] that attends
// only within itself (segmentBias), so rounds of different sizes run in one pass without padding.
// Parameters: decoder.norm_early.*, decoder.embed.*, decoder.mask_token [1, 1, Dd],
// decoder.pos_embed [1, 1 + L, Dd] (frozen), decoder.blocks.<i>.*, decoder.norm.*.
import * as tf from '@tensorflow/tfjs-core';
import {
  blockParamShapes,
  layerNorm,
  linear,
  makeVariable,
  repeatToken,
  param,
  segmentBias,
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

/** One masking round's decoder input. */
export type DecoderRound = {
  /** [B, C] the round's image embedding. */
  embedding: tf.Tensor2D;
  /** [B, V, C] the early block's tokens at the visible positions (before LN_early). */
  early: tf.Tensor3D;
  /** [B, V] int32 the visible positions. */
  visible: tf.Tensor2D;
};

/**
 * The rounds of a batch, each with the masked positions masked [B, M] (int32) shared by all, in one
 * pass -> [B, sum over rounds of (V_r + M), Dd]: round 1's visible then masked outputs, then round 2's,
 * each what the round would give alone.
 */
export function decoderForward(c: DecoderConfig, params: ParamTree, rounds: DecoderRound[], masked: tf.Tensor2D): tf.Tensor3D {
  const [b, m] = masked.shape;
  rounds.forEach((r, i) => {
    const v = r.visible.shape[1];
    const want = `embedding [${b}, ${c.inDim}], early [${b}, ${v}, ${c.inDim}]`;
    if (r.embedding.shape.join() !== [b, c.inDim].join() || r.early.shape.join() !== [b, v, c.inDim].join() || r.visible.shape[0] !== b) {
      throw new Error(`decoderForward: round ${i + 1} needs ${want} for visible [${b}, ${v}], got embedding [${r.embedding.shape}], early [${r.early.shape}], visible [${r.visible.shape}]`);
    }
  });
  return tf.tidy(() => {
    const d = c.embedDim;
    const p = (name: string) => param(params, `decoder.${name}`);
    const sizes = rounds.map((r) => r.visible.shape[1]);
    // LN_early over every round's early tokens at once, then [embedding, visible tokens] per round, embedded at once.
    const normed = tf.split(layerNorm(tf.concat(rounds.map((r) => r.early), 1), p('norm_early.weight'), p('norm_early.bias'), c.layerNormEps), sizes, 1);
    const inputs = rounds.flatMap((r, i) => [tf.expandDims(r.embedding, 1), normed[i]!]);
    const embedded = tf.split(linear(tf.concat(inputs, 1), p('embed.weight'), p('embed.bias')), sizes.map((v) => 1 + v), 1);
    // Each round's sequence [embedding, visible, mask tokens at M], plus the position embedding: slot 0
    // (zero) for the embedding, the patch rows at each token's position.
    const maskTokens = repeatToken(p('mask_token'), b, m);
    const sequence = tf.concat(embedded.flatMap((e) => [e, maskTokens]), 1);
    const one = tf.scalar(1, 'int32');
    const positions = tf.concat(rounds.flatMap((r) => [tf.zeros([b, 1], 'int32'), tf.add(r.visible, one), tf.add(masked, one)]), 1);
    let h = tf.add(sequence, tf.gather(tf.reshape(p('pos_embed'), [-1, d]), positions)) as tf.Tensor3D;
    const bias = rounds.length > 1 ? segmentBias(sizes.map((v) => 1 + v + m)) : undefined;
    for (let i = 0; i < c.depth; i++) h = transformerBlock(h, params, `decoder.blocks.${i}`, c.numHeads, c.layerNormEps, bias);
    h = layerNorm(h, p('norm.weight'), p('norm.bias'), c.layerNormEps) as tf.Tensor3D;
    let start = 0;
    return tf.concat(
      sizes.map((v) => {
        const scored = tf.slice(h, [0, start + 1, 0], [b, v + m, d]);
        start += 1 + v + m;
        return scored;
      }),
      1,
    );
  });
}
