// SimMIM: "SimMIM: A Simple Framework for Masked Image Modeling" (Xie et al., CVPR 2022; reference
// microsoft/SimMIM, models/simmim.py and data/data_simmim.py), re-derived on the core primitives.
// 60% of the patches of each image are replaced by one learned mask token (before the position
// embedding); the FULL encoder (the backbone, with its CLS token) runs over every token; a linear head
// (the reference's 1x1 convolution + PixelShuffle) maps each patch token to its p*p*C raw pixels; the
// loss is the L1 distance to the pixels, averaged over the pixels of the masked patches only (the
// reference's sum(|x - x_rec| * mask) / sum(mask) / C).
// Init as the reference: mask token N(0, 0.02) truncated to +-0.02; the head keeps torch's Conv2d
// default, U(+-1/sqrt(fan_in)) for weight and bias. The encoder is the shared ViT (createVit's init,
// fixed sin-cos positions; no layer scale or relative position bias, unlike the reference's ViT).
// Adaptations: the reference masks on a grid of mask patches (32 pixels) coarser than the model's
// patches (16); at 28x28 with patch 4 the 7x7 token grid has no coarser grid that divides it, so the
// mask is plain random token masking at ratio 0.6 (core's randomTokenMask: ceil(N * 0.6) masked, as
// the reference's count), one permutation per sample from the run's Rng; views stay in [0, 1] and the
// targets are raw pixels in [0, 1] (the reference predicts ImageNet-normalised pixels); image size
// and channels come from the data.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  backboneFields, checkBackboneOverrides, createMlpHead, createVit, linear, makeVariable, maskedCount, numPatches, param, parseOrThrow,
  pasteMaskedPatches, patchify, randomTokenMask, simpleCropFlip, splitDecay, VitConfig, vitConfigForImages, vitForward, type LossResult,
  type MaskedView, type Objective, type ObjectiveContext, type ObjectiveDefinition, type ParamGroup, type ParamTree, type Rng, type StepInfo,
  type VariableTree,
} from '@maskedssl/core';

export const SimMimConfig = z
  .object({
    ...backboneFields('vit-base/16'),
    maskRatio: z.number().gt(0).lt(1).default(0.6),
    /** Smallest crop area fraction of the view (the reference's RandomResizedCrop scale (0.67, 1)). */
    cropMinScale: z.number().gt(0).max(1).default(0.67),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
  });
export type SimMimConfig = z.output<typeof SimMimConfig>;
export type SimMimConfigInput = z.input<typeof SimMimConfig>;

/** Validates a SimMIM config and fills defaults; the error names every bad field. */
export function parseSimMimConfig(input: unknown): SimMimConfig {
  return parseOrThrow(SimMimConfig, input, 'simmim config');
}

/** The prediction head, named as the reference's `decoder.0` (a 1x1 conv): [D] -> [p*p*C], torch's default init. */
export function createSimMimHead(embedDim: number, patchDim: number, rng: Rng, owner = 'simmim'): VariableTree {
  return createMlpHead('decoder', { dims: [embedDim, patchDim], init: 'torch-default' }, rng, owner);
}

/** Head forward: encoder tokens [B, 1 + N, D] (CLS first) -> [B, N, p*p*C] pixel predictions in token order. */
export function simMimPredict(params: ParamTree, tokens: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, t, d] = tokens.shape;
    const patches = tf.slice(tokens, [0, 1, 0], [b, t - 1, d]);
    return linear(patches, param(params, 'decoder.0.weight'), param(params, 'decoder.0.bias')) as tf.Tensor3D;
  });
}

/**
 * SimMIM's loss: pred and target [B, N, p*p*C] (raw patchified pixels), mask [B, N] with 1 at masked
 * patches. |pred - target| summed over the pixels of the masked patches / their number of pixel values.
 * A new scalar.
 */
export function simMimPixelLoss(pred: tf.Tensor3D, target: tf.Tensor3D, mask: tf.Tensor2D): tf.Scalar {
  if (pred.shape.join() !== target.shape.join()) throw new Error(`simMimPixelLoss: pred [${pred.shape}] and target [${target.shape}] differ`);
  if (mask.shape.join() !== pred.shape.slice(0, 2).join()) throw new Error(`simMimPixelLoss: mask [${mask.shape}] for pred [${pred.shape}]`);
  return tf.tidy(() => {
    const perPatch = tf.sum(tf.abs(tf.sub(pred, target)), -1);
    return tf.div(tf.sum(tf.mul(perPatch, mask)), tf.mul(tf.sum(mask), pred.shape[2])) as tf.Scalar;
  });
}

export class SimMimObjective implements Objective {
  readonly name = 'simmim';
  readonly views;
  readonly vit: VitConfig;
  readonly numPatches: number;
  readonly encoder: VariableTree;
  readonly maskToken: tf.Variable;
  /** `decoder.0.{weight,bias}`. */
  readonly head: VariableTree;

  constructor(
    readonly config: SimMimConfig,
    context: ObjectiveContext,
  ) {
    const ch = context.imageShape[2];
    this.vit = vitConfigForImages(config.backbone, config.backboneOverrides, context.imageShape, 'simmim');
    this.numPatches = numPatches(this.vit);
    if (maskedCount(this.numPatches, config.maskRatio) < 1) throw new Error(`simmim: maskRatio ${config.maskRatio} masks no patch of ${this.numPatches}`);
    this.views = [simpleCropFlip({ channels: ch, scale: [config.cropMinScale, 1] })] as const;
    const d = this.vit.embedDim;
    this.encoder = createVit(this.vit, context.rng, 'simmim').params;
    this.maskToken = makeVariable('simmim', 'mask_token', [1, 1, d], context.rng.truncatedNormalArray(d, 0, 0.02, -0.02, 0.02));
    this.head = createSimMimHead(d, this.vit.patchSize ** 2 * ch, context.rng);
  }

  paramGroups(): ParamGroup[] {
    return splitDecay(this.variables());
  }

  variables(): VariableTree {
    return { ...this.encoder, mask_token: this.maskToken, ...this.head };
  }

  /** Pixel predictions [B, N, p*p*C] of the images with mask tokens at `mask` [B, N]. */
  private predict(images: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor3D {
    return simMimPredict(this.head, vitForward(this.vit, this.encoder, images, { mask, maskToken: this.maskToken }).tokens);
  }

  loss(views: tf.Tensor4D[], _info: StepInfo, rng: Rng): LossResult {
    const view = views[0]!;
    const m = randomTokenMask(rng, view.shape[0], this.numPatches, this.config.maskRatio);
    return { loss: simMimPixelLoss(this.predict(view, m.mask), patchify(view, this.vit.patchSize), m.mask) };
  }

  maskedView(images: tf.Tensor4D, rng: Rng): MaskedView {
    return tf.tidy(() => {
      const m = randomTokenMask(rng, images.shape[0], this.numPatches, this.config.maskRatio);
      const visible = tf.keep(m.keep);
      const reconstruction = pasteMaskedPatches(images, this.predict(images, m.mask), m.mask, this.vit.patchSize);
      return { rounds: [{ label: `sees ${visible.shape[1]} of ${this.numPatches}`, visible }], reconstruction };
    });
  }

  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.encoder };
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
  }
}

export const simmim = {
  name: 'simmim',
  summary: 'SimMIM (Xie et al. 2022): mask tokens at 60% of the patches, the full encoder, a linear head regressing their raw pixels (L1)',
  configSchema: SimMimConfig,
  presets: {
    // 28x28x1, 7x7 tokens (vit-mini/4, as the other baselines' presets); SimMIM's head is the one linear layer, no decoder to size.
    'fashion-mnist': { backbone: 'vit-mini/4' },
  },
  // The reference's AdamW (betas 0.9/0.999, wd 0.05, clip 5) at MAE's lr, schedule and batch for
  // minutes-long runs: its lr rule (1e-4 * batch / 512 for ViT-B over 800 epochs, a multistep decay)
  // would give 1.25e-5 at batch 64 and barely move such a run.
  trainerPresets: { 'fashion-mnist': { batchSize: 64, lr: 1e-3, minLr: 1e-5, warmup: 0.05, weightDecay: 0.05, betas: [0.9, 0.999], clipGradNorm: 5 } },
  create: (config, context) => new SimMimObjective(config, context),
} satisfies ObjectiveDefinition<typeof SimMimConfig>;
