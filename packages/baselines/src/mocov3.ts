// MoCo v3: "An Empirical Study of Training Self-Supervised Vision Transformers" (Chen, Xie, He, ICCV
// 2021; reference facebookresearch/moco-v3, moco/builder.py, vits.py, main_moco.py), re-derived on the
// core primitives. Two asymmetric views (BYOL's recipe) of each image go through
//   base encoder      ViT -> CLS token after the final LayerNorm -> 3-layer projector
//                     (Linear -> BN -> ReLU -> Linear -> BN -> ReLU -> Linear -> BN without affine;
//                     linears without bias) -> 2-layer predictor (Linear -> BN -> ReLU -> Linear ->
//                     BN without affine) = q1, q2;
//   momentum encoder  an EMA copy of ViT + projector (no predictor), no gradient = k1, k2.
// The loss is symmetric InfoNCE against the other view's key: ctr(q1, k2) + ctr(q2, k1), with
// ctr(q, k) = CrossEntropy(q̂ k̂ᵀ / T, labels = arange(N)) * 2T on L2-normalised q and k (the other
// images of the batch are the negatives). BatchNorm runs in training mode on batch statistics, per view
// (the reference calls the encoder once per view, so each view's batch has its own statistics).
// The "random patch projection" (--stop-grad-conv1): the patch embedding is frozen at its random init.
// After each optimiser step the momentum encoder moves with the cosine momentum schedule 0.99 -> 1
// (declared as a momentum pair; the trainer applies it with m(step + 1), as the reference does).
// Initialisation as vits.py: xavier-uniform linears with q, k and v treated as separate matrices,
// zero biases, unit LayerNorm scales, N(0, 1e-6) class token, fixed 2-D sin-cos positions with a zero
// row at the CLS slot (core's createVit), xavier-uniform patch projection (core's createVit: fan-in
// p*p*C, the reference's 3*p*p for its RGB input); the heads as torch's nn.Linear default
// (U(+-1/sqrt(fan_in))) since the reference builds them after its ViT init, BN scale 1 and shift 0.
// Adaptations: one device, so no all-gather (the negatives are this batch's other images) and no
// SyncBN; BN keeps no running statistics (the reference trains and discards the heads in training
// mode: main_lincls.py keeps only base_encoder minus its head); views stay in [0, 1] without ImageNet
// normalisation, as for every method here; image size and channels come from the data; the blur is
// core's Gaussian kernel; for 1-channel images the RGB-only augmentations are left out (asymmetricPair).
// The 'vit-small/16' preset of core has 6 heads (timm's/DeiT's ViT-S); the reference's vit_small has
// 12 heads: set backboneOverrides.numHeads = 12 to match it exactly.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  asymmetricPair, backboneFields, checkBackboneOverrides, checkMomentum, createMlpHead, createVit, EmaTeacher, infoNce, mlpHeadForward,
  momentumFields, noGrad, parseOrThrow, prefixed, VitConfig, vitConfigForImages, vitFeatures, vitForward,
  type MlpHeadConfig, type MomentumPairs, type Objective, type ObjectiveContext, type ObjectiveDefinition, type ParamGroup, type ParamTree,
  type VariableTree,
} from '@maskedssl/core';

const OWNER = 'mocov3';

export const MocoV3Config = z
  .object({
    /** Encoder preset (the reference's ViT recipe: vit_small); image size and channels come from the data. */
    ...backboneFields('vit-small/16'),
    /** Image feature fed to the projector: the class token after the final norm, as the reference (timm's ViT head input). */
    pool: z.enum(['cls', 'avg']).default('cls'),
    /** Output width of projector and predictor (`--moco-dim`). */
    outDim: z.number().int().positive().default(256),
    /** Hidden width of the 3-layer projector (`--moco-mlp-dim`). */
    projectorHiddenDim: z.number().int().positive().default(4096),
    /** Hidden width of the 2-layer predictor (`--moco-mlp-dim` too in the reference). */
    predictorHiddenDim: z.number().int().positive().default(4096),
    /** Softmax temperature T (`--moco-t`; the ViT recipe's 0.2, the argument's default is 1). */
    temperature: z.number().positive().default(0.2),
    /** Momentum encoder: `--moco-m` 0.99 at step 0, rising along a half cosine to 1 (`--moco-m-cos`). */
    ...momentumFields(0.99, 1),
    /** Random patch projection (`--stop-grad-conv1`, on in the ViT recipe): patch embedding frozen at init. */
    freezePatchEmbed: z.boolean().default(true),
    /** Smallest crop area fraction of both views (`--crop-min`; the ViT recipe keeps the default 0.08). */
    cropMinScale: z.number().gt(0).max(1).default(0.08),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkMomentum(c, ctx);
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
  });
export type MocoV3Config = z.output<typeof MocoV3Config>;
export type MocoV3ConfigInput = z.input<typeof MocoV3Config>;

/** Validates a MoCo v3 config and fills defaults; the error names every bad field. */
export function parseMocoV3Config(input: unknown): MocoV3Config {
  return parseOrThrow(MocoV3Config, input, 'mocov3 config');
}

/** The reference's `_build_mlp(numLayers, inDim, hiddenDim, outDim)`: linears without bias, BN after each, the last without affine. */
export function mocoV3Head(numLayers: number, inDim: number, hiddenDim: number, outDim: number): MlpHeadConfig {
  const dims = [inDim, ...Array.from({ length: numLayers - 1 }, () => hiddenDim), outDim];
  return { dims, bias: false, batchNorm: 'all', activation: 'relu', init: 'torch-default' };
}

/**
 * The reference's contrastive_loss: InfoNCE of q against k (in-batch negatives, L2-normalised rows)
 * times 2T. A new scalar.
 */
export function contrastiveLoss(q: tf.Tensor2D, k: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => tf.mul(infoNce(q, k, { temperature }).loss, 2 * temperature) as tf.Scalar);
}

/** The symmetric MoCo v3 loss: each view's query against the other view's key, ctr(q1, k2) + ctr(q2, k1). */
export function mocoV3Loss(q1: tf.Tensor2D, q2: tf.Tensor2D, k1: tf.Tensor2D, k2: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => tf.add(contrastiveLoss(q1, k2, temperature), contrastiveLoss(q2, k1, temperature)) as tf.Scalar);
}

export class MocoV3Objective implements Objective {
  readonly name = 'mocov3';
  readonly views;
  readonly vit: VitConfig;
  readonly projectorConfig: MlpHeadConfig;
  readonly predictorConfig: MlpHeadConfig;
  /** The base encoder's ViT (timm names): what backbone() returns. */
  readonly backboneParams: VariableTree;
  /** Base encoder = backbone + projector (`head.*`): the record the momentum encoder copies. */
  readonly encoder: VariableTree;
  /** Predictor (`predictor.*`), base branch only. */
  readonly predictor: VariableTree;
  /** Momentum encoder: frozen copies of `encoder`, same names. */
  readonly momentumEncoder: EmaTeacher;

  constructor(
    readonly config: MocoV3Config,
    context: ObjectiveContext,
  ) {
    const c = config;
    const ch = context.imageShape[2];
    if (context.batchSize < 2) throw new Error(`mocov3: batch size ${context.batchSize}: needs >= 2 images (batch-norm statistics, negatives)`);
    this.vit = vitConfigForImages(c.backbone, c.backboneOverrides, context.imageShape, 'mocov3');
    const { view1, view2 } = asymmetricPair({ channels: ch, scale: [c.cropMinScale, 1] });
    this.views = [view1, view2] as const;

    const rng = context.rng;
    const d = this.vit.embedDim;
    const vit = createVit(this.vit, rng, `${OWNER}-base`);
    // vits.py's init where it differs from core's: q, k and v as three [D, D] xavier matrices (one
    // bound for the whole [D, 3D] qkv weight), and a N(0, 1e-6) class token.
    tf.tidy(() => {
      for (let i = 0; i < this.vit.depth; i++) {
        const bound = Math.sqrt(6 / (2 * d));
        vit.params[`blocks.${i}.attn.qkv.weight`]!.assign(tf.tensor2d(rng.uniformArray(d * 3 * d, -bound, bound), [d, 3 * d]));
      }
      if (this.vit.classToken) vit.params.cls_token!.assign(tf.tensor3d(rng.normalArray(d, 0, 1e-6), [1, 1, d]));
    });
    if (c.freezePatchEmbed) {
      vit.params['patch_embed.proj.weight']!.trainable = false;
      vit.params['patch_embed.proj.bias']!.trainable = false;
    }
    this.backboneParams = vit.params;
    this.projectorConfig = mocoV3Head(3, d, c.projectorHiddenDim, c.outDim);
    this.predictorConfig = mocoV3Head(2, c.outDim, c.predictorHiddenDim, c.outDim);
    this.encoder = { ...vit.params, ...createMlpHead('head', this.projectorConfig, rng, `${OWNER}-base`) };
    this.predictor = createMlpHead('predictor', this.predictorConfig, rng, OWNER);
    this.momentumEncoder = new EmaTeacher(this.encoder, `${OWNER}-momentum`);
  }

  /**
   * One AdamW group with every learnable variable at the scheduled lr and weight decay: the reference
   * hands model.parameters() to AdamW, so biases, norms and the class token are decayed too; frozen
   * variables (patch embedding, positions, the momentum encoder) are left out, as torch skips them.
   */
  paramGroups(): ParamGroup[] {
    const all = { ...prefixed('base_encoder.', this.encoder), ...this.predictor };
    return [{ params: Object.fromEntries(Object.entries(all).filter(([, v]) => v.trainable)) }];
  }

  /** Every variable, named as the reference's state dict: base_encoder.*, predictor.*, momentum_encoder.*. */
  variables(): VariableTree {
    return { ...prefixed('base_encoder.', this.encoder), ...this.predictor, ...prefixed('momentum_encoder.', this.momentumEncoder.params) };
  }

  /** [B, D] image features of an encoder record (its ViT part). */
  private features(params: ParamTree, images: tf.Tensor4D, inference = false): tf.Tensor2D {
    return vitFeatures(this.vit, vitForward(this.vit, params, images, { inference }).tokens, this.config.pool);
  }

  /**
   * q1, q2 (base encoder + predictor) and k1, k2 (momentum encoder, no gradient) [B, outDim] of two
   * views. The ViTs run on both views at once (no op mixes images); the heads run per view, so each
   * view has its own BN statistics as in the reference.
   */
  embed(v1: tf.Tensor4D, v2: tf.Tensor4D): { q1: tf.Tensor2D; q2: tf.Tensor2D; k1: tf.Tensor2D; k2: tf.Tensor2D } {
    if (v1.shape.join() !== v2.shape.join()) throw new Error(`mocov3: the views differ in shape: [${v1.shape}] and [${v2.shape}]`);
    if (v1.shape[0] < 2) throw new Error(`mocov3: a batch of ${v1.shape[0]} image: needs >= 2 (batch-norm statistics, negatives)`);
    return tf.tidy(() => {
      const x = tf.concat([v1, v2], 0);
      const p = this.projectorConfig;
      const r = this.predictorConfig;
      const [f1, f2] = tf.split(this.features(this.encoder, x), 2, 0) as [tf.Tensor2D, tf.Tensor2D];
      const query = (f: tf.Tensor2D) => mlpHeadForward('predictor', r, this.predictor, mlpHeadForward('head', p, this.encoder, f));
      // The keys are targets only: computed off the gradient tape, the ViT with the fused inference ops.
      const m = this.momentumEncoder.params;
      const [k1, k2] = noGrad(() => {
        const [g1, g2] = tf.split(this.features(m, x, true), 2, 0) as [tf.Tensor2D, tf.Tensor2D];
        return [mlpHeadForward('head', p, m, g1), mlpHeadForward('head', p, m, g2)];
      });
      return { q1: query(f1), q2: query(f2), k1: k1!, k2: k2! };
    });
  }

  loss(views: tf.Tensor4D[]): { loss: tf.Scalar } {
    if (views.length !== 2) throw new Error(`mocov3: loss expects 2 views, got ${views.length}`);
    const { q1, q2, k1, k2 } = this.embed(views[0]!, views[1]!);
    return { loss: mocoV3Loss(q1, q2, k1, k2, this.config.temperature) };
  }

  /** The momentum encoder follows backbone + projector (the trainer applies the schedule, see momentum.ts). */
  momentumPairs(): MomentumPairs {
    return { pairs: [{ student: this.encoder, teacher: this.momentumEncoder }], momentum: this.config.momentum, momentumEnd: this.config.momentumEnd };
  }

  /**
   * The base (query) encoder's ViT, as the reference evaluates it (main_lincls.py keeps
   * base_encoder without its head); the harness pools the tokens itself.
   */
  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.backboneParams };
  }

  dispose(): void {
    tf.dispose([...Object.values(this.encoder), ...Object.values(this.predictor)]);
    this.momentumEncoder.dispose();
  }
}

export const mocov3 = {
  name: 'mocov3',
  summary: "MoCo v3 (Chen, Xie & He 2021): a view's query predicts the other view's momentum-encoder key among the batch's (symmetric InfoNCE)",
  configSchema: MocoV3Config,
  presets: {
    // 28x28x1, 7x7 tokens (vit-mini/4); heads 4x the encoder's width (512 hidden for a 128-wide encoder; the reference's 4096 is 5-10x its 384/768), the reference's
    // 256 out. Crops from 20% of the area, as MOCA's and MAE's views: the ViT recipe's 8% of a 28x28
    // image is an 8x8 patch of pixels, 2x2 tokens.
    'fashion-mnist': { backbone: 'vit-mini/4', projectorHiddenDim: 512, predictorHiddenDim: 512, outDim: 256, cropMinScale: 0.2 },
  },
  trainerPresets: {
    // The reference's ViT optimiser: AdamW with torch's default betas (0.9, 0.999), weight decay 0.1,
    // a linear warmup over 40 of 300 epochs, then a half cosine to 0; no gradient clipping. Its lr is
    // 1.5e-4 * batch / 256, i.e. 3.75e-5 at batch 64: tuned for 300 ImageNet epochs, it would barely
    // move a minutes-long run. 1e-3 is within the absolute rates the reference reaches at its batch
    // sizes (6e-4 at 1024 for ViT-S, 2.4e-3 at 4096 for ViT-B), and the frozen patch projection is
    // the paper's fix for the instability large rates cause.
    'fashion-mnist': { batchSize: 64, lr: 1e-3, minLr: 0, warmup: 40 / 300, weightDecay: 0.1, betas: [0.9, 0.999] },
  },
  create: (config, context) => new MocoV3Objective(config, context),
} satisfies ObjectiveDefinition<typeof MocoV3Config>;
