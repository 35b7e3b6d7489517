// MAE: "Masked Autoencoders Are Scalable Vision Learners" (He et al., CVPR 2022; reference
// facebookresearch/mae, models_mae.py), re-derived on the core primitives. 75% of the patches of
// each image are dropped at random; the encoder (the backbone, with its CLS token) sees only the
// visible ones. A light decoder embeds the encoder tokens to its own width, appends one learned mask
// token per dropped patch, puts the sequence back in token order (restoreTokens with the mask's
// `restore`), adds its own fixed sin-cos position embedding (zero row at the CLS slot), runs its
// blocks and a final LayerNorm, and predicts the p*p*C pixels of every patch. The loss is the MSE to
// the per-patch normalised pixels (norm_pix_loss: (x - mean) / sqrt(var + 1e-6), var unbiased as
// torch's .var()), averaged per patch, then over the masked patches of the whole batch.
// Init as MAE: xavier-uniform linears, zero biases, unit LayerNorm scales, N(0, 0.02) mask token.
// Adaptations: masks come from the run's Rng (one permutation per sample; kept tokens in ascending
// position order, which changes nothing for an order-free encoder); views stay in [0, 1] without
// ImageNet normalisation, as for every method here (norm_pix targets are scale-free anyway);
// norm_pix_loss defaults to true (the reference model's default is false, but its pretraining
// recipe and the paper's headline results use it); image size and channels come from the data.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  backboneFields, blockParamShapes, checkBackboneOverrides, createVit, layerNorm, linear, makeVariable, param, parseOrThrow, pasteMaskedPatches,
  patchify, randomTokenMask, repeatToken, restoreTokens, simpleCropFlip, sinCos2dPosEmbed, splitDecay, transformerBlock, VitConfig,
  vitConfigForImages, vitForward, xavierUniform, type LossResult, type MaskedView, type Objective, type ObjectiveContext, type ObjectiveDefinition,
  type ParamGroup, type ParamTree, type Rng, type StepInfo, type TokenMask, type VariableTree,
} from '@maskedssl/core';

export const MaeConfig = z
  .object({
    ...backboneFields('vit-base/16'),
    maskRatio: z.number().gt(0).lt(1).default(0.75),
    normPixLoss: z.boolean().default(true),
    decoderEmbedDim: z.number().int().positive().default(512),
    decoderDepth: z.number().int().positive().default(8),
    decoderNumHeads: z.number().int().positive().default(16),
    decoderMlpRatio: z.number().positive().default(4),
  })
  .strict()
  .superRefine((c, ctx) => {
    const d = c.decoderEmbedDim;
    if (d % c.decoderNumHeads !== 0) ctx.addIssue({ code: 'custom', path: ['decoderNumHeads'], message: `decoderEmbedDim ${d} is not divisible by decoderNumHeads ${c.decoderNumHeads}` });
    if (d % 4 !== 0) ctx.addIssue({ code: 'custom', path: ['decoderEmbedDim'], message: `decoderEmbedDim ${d} must be divisible by 4 (2-D sin-cos position embedding)` });
    if (!Number.isInteger(d * c.decoderMlpRatio)) ctx.addIssue({ code: 'custom', path: ['decoderMlpRatio'], message: 'decoderEmbedDim * decoderMlpRatio must be an integer' });
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
  });
export type MaeConfig = z.output<typeof MaeConfig>;
export type MaeConfigInput = z.input<typeof MaeConfig>;

/** Validates an MAE config and fills defaults; the error names every bad field. */
export function parseMaeConfig(input: unknown): MaeConfig {
  return parseOrThrow(MaeConfig, input, 'mae config');
}

/** Shape of the decoder: widths, the patch grid it restores, and the pixels it predicts per patch. */
export interface MaeDecoderConfig {
  encoderDim: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  /** Side of the (square) patch grid: N = gridSize^2 tokens. */
  gridSize: number;
  /** p * p * C. */
  patchDim: number;
  layerNormEps: number;
}

/** Decoder variables named as MAE's state dict; `decoder_pos_embed` is frozen (fixed sin-cos). */
export function createMaeDecoder(c: MaeDecoderConfig, rng: Rng, owner = 'mae'): VariableTree {
  const d = c.embedDim;
  const mk = (name: string, shape: number[], values: Float32Array | 'zeros' | 'ones', trainable = true) => makeVariable(owner, name, shape, values, trainable);
  const v: VariableTree = {
    'decoder_embed.weight': mk('decoder_embed.weight', [c.encoderDim, d], xavierUniform(rng, c.encoderDim, d)),
    'decoder_embed.bias': mk('decoder_embed.bias', [d], 'zeros'),
    mask_token: mk('mask_token', [1, 1, d], rng.normalArray(d, 0, 0.02)),
    decoder_pos_embed: mk('decoder_pos_embed', [1, c.gridSize ** 2 + 1, d], sinCos2dPosEmbed(d, c.gridSize, c.gridSize, true), false),
  };
  for (let i = 0; i < c.depth; i++) {
    for (const [name, shape] of Object.entries(blockParamShapes(`decoder_blocks.${i}`, d, d * c.mlpRatio))) {
      v[name] = mk(name, shape, shape.length === 2 ? xavierUniform(rng, shape[0]!, shape[1]!) : /norm\d\.weight$/.test(name) ? 'ones' : 'zeros');
    }
  }
  v['decoder_norm.weight'] = mk('decoder_norm.weight', [d], 'ones');
  v['decoder_norm.bias'] = mk('decoder_norm.bias', [d], 'zeros');
  v['decoder_pred.weight'] = mk('decoder_pred.weight', [d, c.patchDim], xavierUniform(rng, d, c.patchDim));
  v['decoder_pred.bias'] = mk('decoder_pred.bias', [c.patchDim], 'zeros');
  return v;
}

/**
 * The decoder's input sequence [B, 1 + N, D']: encoder tokens `latent` [B, 1 + K, D] (CLS first, then
 * the K kept patches in `keep` order) embedded to width D', N - K mask tokens appended after the kept
 * ones, the patches put back in token order by `restore` [B, N] (a TokenMask's), CLS in front, plus
 * decoder_pos_embed. Returns a new tensor.
 */
export function maeDecoderInput(c: MaeDecoderConfig, params: ParamTree, latent: tf.Tensor3D, restore: tf.Tensor2D): tf.Tensor3D {
  const [b, t] = latent.shape;
  const n = c.gridSize ** 2;
  if (restore.shape[1] !== n || t - 1 > n) throw new Error(`maeDecoderInput: ${t - 1} kept tokens and restore [${restore.shape}] for ${n} patches`);
  return tf.tidy(() => {
    const x = linear(latent, param(params, 'decoder_embed.weight'), param(params, 'decoder_embed.bias')) as tf.Tensor3D;
    const d = c.embedDim;
    const masks = repeatToken(param(params, 'mask_token'), b, n - (t - 1));
    const patches = restoreTokens(tf.concat([tf.slice(x, [0, 1, 0], [b, t - 1, d]), masks], 1) as tf.Tensor3D, restore);
    return tf.add(tf.concat([tf.slice(x, [0, 0, 0], [b, 1, d]), patches], 1), param(params, 'decoder_pos_embed')) as tf.Tensor3D;
  });
}

/** Decoder forward: [B, 1 + K, D] encoder tokens -> [B, N, p*p*C] pixel predictions in token order. */
export function maeDecoderForward(c: MaeDecoderConfig, params: ParamTree, latent: tf.Tensor3D, restore: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    let x = maeDecoderInput(c, params, latent, restore);
    for (let i = 0; i < c.depth; i++) x = transformerBlock(x, params, `decoder_blocks.${i}`, c.numHeads, c.layerNormEps);
    x = layerNorm(x, param(params, 'decoder_norm.weight'), param(params, 'decoder_norm.bias'), c.layerNormEps) as tf.Tensor3D;
    const pred = linear(x, param(params, 'decoder_pred.weight'), param(params, 'decoder_pred.bias')) as tf.Tensor3D;
    const [b, t] = pred.shape;
    return tf.slice(pred, [0, 1, 0], [b, t - 1, c.patchDim]);
  });
}

/** Per-patch normalised pixels: (x - mean) / sqrt(var + eps) over the last axis, var unbiased (n - 1). */
export function normPixTargets(patches: tf.Tensor, eps = 1e-6): tf.Tensor {
  const len = patches.shape[patches.rank - 1]!;
  if (len < 2) throw new Error(`normPixTargets: the unbiased variance needs >= 2 values per patch, got ${len}`);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(patches, -1, true);
    return tf.div(tf.sub(patches, mean), tf.sqrt(tf.add(tf.mul(variance, len / (len - 1)), eps)));
  });
}

/**
 * MAE's loss: pred and target [B, N, p*p*C] (target: raw patchified pixels, normalised here when
 * `normPix`), mask [B, N] with 1 at masked patches. Squared error averaged over each patch's pixels,
 * then sum over masked patches / number of masked patches in the batch. A new scalar.
 */
export function maePatchLoss(pred: tf.Tensor3D, target: tf.Tensor3D, mask: tf.Tensor2D, normPix: boolean): tf.Scalar {
  if (pred.shape.join() !== target.shape.join()) throw new Error(`maePatchLoss: pred [${pred.shape}] and target [${target.shape}] differ`);
  if (mask.shape.join() !== pred.shape.slice(0, 2).join()) throw new Error(`maePatchLoss: mask [${mask.shape}] for pred [${pred.shape}]`);
  return tf.tidy(() => {
    const t = normPix ? normPixTargets(target) : target;
    const perPatch = tf.mean(tf.square(tf.sub(pred, t)), -1);
    return tf.div(tf.sum(tf.mul(perPatch, mask)), tf.sum(mask)) as tf.Scalar;
  });
}

export class MaeObjective implements Objective {
  readonly name = 'mae';
  readonly views;
  readonly vit: VitConfig;
  readonly decoderConfig: MaeDecoderConfig;
  readonly numPatches: number;
  readonly encoder: VariableTree;
  readonly decoder: VariableTree;

  constructor(
    readonly config: MaeConfig,
    context: ObjectiveContext,
  ) {
    const [h, , ch] = context.imageShape;
    this.vit = vitConfigForImages(config.backbone, config.backboneOverrides, context.imageShape, 'mae');
    const grid = h / this.vit.patchSize;
    this.numPatches = grid * grid;
    const patchDim = this.vit.patchSize ** 2 * ch;
    if (Math.floor(this.numPatches * (1 - config.maskRatio)) < 1) throw new Error(`mae: maskRatio ${config.maskRatio} keeps no patch of ${this.numPatches}`);
    if (config.normPixLoss && patchDim < 2) throw new Error(`mae: normPixLoss needs >= 2 pixels per patch (patchSize ${this.vit.patchSize}, ${ch} channel)`);
    this.decoderConfig = {
      encoderDim: this.vit.embedDim, embedDim: config.decoderEmbedDim, depth: config.decoderDepth, numHeads: config.decoderNumHeads,
      mlpRatio: config.decoderMlpRatio, gridSize: grid, patchDim, layerNormEps: this.vit.layerNormEps,
    };
    this.views = [simpleCropFlip({ channels: ch })] as const;
    this.encoder = createVit(this.vit, context.rng, 'mae').params;
    this.decoder = createMaeDecoder(this.decoderConfig, context.rng, 'mae');
  }

  paramGroups(): ParamGroup[] {
    return splitDecay(this.variables());
  }

  variables(): VariableTree {
    return { ...this.encoder, ...this.decoder };
  }

  /** forward_encoder + forward_decoder: the pixel predictions [B, N, p*p*C] of the images under mask `m`. */
  private predict(images: tf.Tensor4D, m: TokenMask, inference = false): tf.Tensor3D {
    const latent = vitForward(this.vit, this.encoder, images, { keep: m.keep, inference }).tokens;
    return maeDecoderForward(this.decoderConfig, this.decoder, latent, m.restore);
  }

  loss(views: tf.Tensor4D[], _info: StepInfo, rng: Rng): LossResult {
    const view = views[0]!;
    const m = randomTokenMask(rng, view.shape[0], this.numPatches, this.config.maskRatio);
    return { loss: maePatchLoss(this.predict(view, m), patchify(view, this.vit.patchSize), m.mask, this.config.normPixLoss) };
  }

  maskedView(images: tf.Tensor4D, rng: Rng): MaskedView {
    return tf.tidy(() => {
      const p = this.vit.patchSize;
      const m = randomTokenMask(rng, images.shape[0], this.numPatches, this.config.maskRatio);
      let pred = this.predict(images, m, true);
      if (this.config.normPixLoss) {
        // The prediction is in normalised pixels: shown with each patch's own mean and spread, as MAE's demo does.
        const patchDim = this.decoderConfig.patchDim;
        const { mean, variance } = tf.moments(patchify(images, p), -1, true);
        pred = tf.add(tf.mul(pred, tf.sqrt(tf.add(tf.mul(variance, patchDim / (patchDim - 1)), 1e-6))), mean) as tf.Tensor3D;
      }
      const visible = tf.keep(m.keep);
      return { rounds: [{ label: `sees ${visible.shape[1]} of ${this.numPatches}`, visible }], reconstruction: pasteMaskedPatches(images, pred, m.mask, p) };
    });
  }

  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.encoder };
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
  }
}

export const mae = {
  name: 'mae',
  summary: 'MAE (He et al. 2022): reconstruct the normalised pixels of 75% dropped patches with a light decoder',
  configSchema: MaeConfig,
  presets: {
    // 28x28x1, 7x7 tokens (vit-mini/4, as the other baselines' presets) and a light decoder (2 blocks,
    // width 128, 4 heads). The reference trains with AdamW
    // (betas 0.9/0.95, wd 0.05), lr = 1.5e-4 * batch / 256, a 40/800-epoch warmup and a cosine; that
    // is the trainer's config, not this one.
    'fashion-mnist': { backbone: 'vit-mini/4', decoderDepth: 2, decoderEmbedDim: 128, decoderNumHeads: 4 },
  },
  // The reference's AdamW (0.9/0.95, wd 0.05, warmup + cosine) at the lr the other methods use for
  // minutes-long runs (its 1.5e-4 * batch / 256 rule is tuned for 800 epochs), same batch size.
  trainerPresets: { 'fashion-mnist': { batchSize: 64, lr: 1e-3, minLr: 1e-5, warmup: 0.05, weightDecay: 0.05, betas: [0.9, 0.95] } },
  create: (config, context) => new MaeObjective(config, context),
} satisfies ObjectiveDefinition<typeof MaeConfig>;
