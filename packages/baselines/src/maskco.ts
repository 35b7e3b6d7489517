// MaskCo: "Self-Supervised Visual Representations Learning by Contrastive Mask Prediction" (Zhao,
// Wang, Luo, Zeng, Zha, ICCV 2021, arXiv 2108.07954). No official code exists and we could read only
// the abstract and Figure 3's caption: the method's structure is the
// paper's, everything below marked [ours] is our ViT adaptation, following maskco.md's
// recommendations; the framework and constants are MoCo v2's (facebookresearch/moco, builder.py).
// One step, per image of the batch:
//   views    two crops of the raw image (RandomResizedCrop, scale 0.2-1) with independent flips, then
//            MoCo v2's "aug+" photometry (colour jitter 0.4/0.4/0.4/0.1 p 0.8, grayscale p 0.2,
//            Gaussian blur sigma 0.1-2 p 0.5; for 1-channel images saturation, hue and grayscale are
//            left out): the trainer's pipelines, with the two crops and flips drawn jointly first
//            (sampleViews, below), because the region has to lie in both crops and be mapped between
//            views through each view's crop box and flip; every random draw comes from the
//            trainer's (checkpointed) rng.
//   region   [ours] R = an integer h x w box of query tokens, h, w uniform in `regionSize` ([2, 4]
//            for a 7x7 grid), lying fully inside the two crops' overlap seen in the query view. The
//            crop pair is redrawn (<= 10 tries) until the overlap holds lo x lo whole query tokens,
//            else the key takes the query's crop (rate logged as `fallbackRate`). One region per image.
//   query    [ours] the patch embeddings inside R are replaced by a learnable mask token (N(0, 0.02))
//            before the position embeddings, and the encoder sees every token (CLS + L), the ViT
//            analogue of a CNN seeing a blanked region; `maskFill: 'pixel'` instead sets R's pixels
//            to the batch's per-channel mean (our views are not normalised, so "0 after
//            normalisation" becomes the mean). Then the mask prediction head (MPH) [ours: its
//            architecture is unknown]: 2 pre-norm transformer blocks (encoder width and head count,
//            MLP ratio 4) + a LayerNorm over all output tokens; region vector = uniform mean of R's
//            MPH tokens; projection head Linear(D, 2048) -> ReLU -> Linear(2048, 128) (MoCo v2's,
//            no BN); L2-normalised = q.
//   key      the unmasked other view through the EMA key encoder, no MPH [ours: the caption leaves it
//            open]; R mapped into the key view (query tokens -> query pixels -> source pixels -> key
//            pixels -> key tokens: a fractional box) and pooled by token-level RoIAlign [ours]: a
//            7x7 lattice of bin centres in the box, each bilinear from the token centres (clamped at
//            the border), coefficients averaged; then the EMA key head, L2-normalised = k+. The
//            pooling is one matrix A [B, L] per branch built on the JS side (rows sum to 1), so
//            region = A Z is differentiable without a cropAndResize gradient.
//   loss     InfoNCE, MoCo's cross entropy with target 0 over [q.k+, q.queue] / tau, tau 0.2, mean
//            over the batch; one direction (as MoCo v2). `symmetric`: each view masked in turn (a
//            second region on the key view's grid), losses averaged, both directions' keys enqueued
//            (as the symmetric variant of MoCo's CIFAR demo); queueSize must then be a multiple of 2B.
//   after    the step's keys enter the K x 128 queue (FIFO at a pointer that wraps; K a multiple of
//            the keys per step, refused at create(); initialised as normalised Gaussian rows), then
//            key encoder and key head move by EMA with momentum m(step + 1) (momentum pairs).
// Not implemented (both [ours] options of maskco.md): `encoderSeesMask: false` (the MAE-style variant
// where the encoder drops R's tokens and the MPH inserts them; the encoder always sees the mask
// tokens here) and `inImageNegatives` (extra key boxes of the same image as negatives; the default 0
// is what runs). No global (view-level) loss term: we found no evidence of one.
// Init: backbone and MPH as core's ViT (xavier-uniform linears, zero biases, unit norms); projection
// head as MoCo v2's torch nn.Linear default (weights and biases U(+-1/sqrt(fan_in))); the key
// encoder and key head start as copies. AdamW groups as timm/MAE (splitDecay: no decay for rank <= 1
// tensors, the CLS and mask tokens). backbone() is the QUERY encoder (MoCo evaluates encoder_q; the
// MPH, heads and mask token are dropped), evaluated on its final-LN tokens like every method here.
// Momentum: MoCo v2's constant 0.999 by default; the fashion-mnist preset uses MoCo v3's cosine
// 0.99 -> 1, better suited to short runs. Views stay in [0, 1] (no ImageNet normalisation), as for
// every method here; image size and channels come from the data.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  backboneFields, blockParamShapes, checkBackboneOverrides, checkMomentum, concatFloat32, createMlpHead, createVit, EmaTeacher, infoNce,
  l2Normalize, layerNorm, makeVariable, mlpHeadForward, momentumFields, noGrad, param, parseOrThrow, prefixed, ringWrite, splitDecay,
  stopGradient, transformerBlock, VitConfig, vitConfigForImages, vitForward, vitPresets, xavierUniform, type AugmentStepInput,
  type MlpHeadConfig, type MomentumPairs, type Objective, type ObjectiveContext, type ObjectiveDefinition, type ParamGroup, type ParamTree,
  type Rng, type VariableTree, type ViewGeometrySample,
} from '@maskedssl/core';
import {
  bilinearPoolingRow, mapTokenBox, sampleRegionPair, uniformPoolingRow, type Rect, type RegionPair, type TokenBox, type ViewGeometry,
} from './maskco-regions.js';

export * from './maskco-regions.js';

const OWNER = 'maskco';
const intRange = z
  .tuple([z.number().int().positive(), z.number().int().positive()])
  .refine(([lo, hi]) => lo <= hi, { message: 'lower bound must be <= upper bound' });

export const MaskCoConfig = z
  .object({
    ...backboneFields('vit-base/16'),
    /** Transformer blocks of the mask prediction head (0: the MPH is only its LayerNorm, an ablation). */
    mphDepth: z.number().int().nonnegative().default(2),
    mphMlpRatio: z.number().positive().default(4),
    /** Projection head Linear(D, headHiddenDim) -> ReLU -> Linear(headHiddenDim, headOutDim). */
    headHiddenDim: z.number().int().positive().default(2048),
    headOutDim: z.number().int().positive().default(128),
    /** Keys in the queue (MoCo v2's K); a multiple of the keys enqueued per step (the batch, 2x if symmetric). */
    queueSize: z.number().int().positive().default(65536),
    temperature: z.number().positive().default(0.2),
    /** Key encoder and head: MoCo v2's constant 0.999 (momentumEnd = momentum); a cosine when momentumEnd is higher. */
    ...momentumFields(0.999, 0.999),
    /** Region side range in query tokens; default from the grid g: [floor((g + 1) / 4), ceil(g / 2)] ([2, 4] at g = 7, [3, 7] at 14). */
    regionSize: intRange.optional(),
    /** Side of the RoIAlign sample lattice in the key box. */
    roiSamples: z.number().int().positive().default(7),
    /** Crop area fraction range of both views (MoCo v2's aug+: 0.2-1). */
    cropScale: z
      .tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)])
      .refine(([lo, hi]) => lo <= hi, { message: 'lower bound must be <= upper bound' })
      .default([0.2, 1]),
    /** How R is hidden from the query encoder: a learnable mask token, or pixels set to the batch mean. */
    maskFill: z.enum(['token', 'pixel']).default('token'),
    /** Mask each view in turn and average the two losses (MoCo v2 is one-directional). */
    symmetric: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkMomentum(c, ctx);
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
    const d = c.backboneOverrides.embedDim ?? vitPresets[c.backbone].embedDim;
    if (!Number.isInteger(d * c.mphMlpRatio)) ctx.addIssue({ code: 'custom', path: ['mphMlpRatio'], message: `embedDim ${d} * mphMlpRatio must be an integer` });
  });
export type MaskCoConfig = z.output<typeof MaskCoConfig>;
export type MaskCoConfigInput = z.input<typeof MaskCoConfig>;

/** Validates a MaskCo config and fills defaults; the error names every bad field. */
export function parseMaskCoConfig(input: unknown): MaskCoConfig {
  return parseOrThrow(MaskCoConfig, input, 'maskco config');
}

/** The default region side range for a g x g token grid: [floor((g + 1) / 4), ceil(g / 2)], at least 1. */
export function defaultRegionSize(grid: number): [number, number] {
  const lo = Math.max(1, Math.floor((grid + 1) / 4));
  return [lo, Math.max(lo, Math.ceil(grid / 2))];
}

/** MPH variables `mph.blocks.{i}.*` and `mph.norm.*`, initialised as core's ViT blocks. */
export function createMaskPredictionHead(dim: number, depth: number, mlpRatio: number, rng: Rng, owner = OWNER): VariableTree {
  const v: VariableTree = {};
  for (let i = 0; i < depth; i++) {
    for (const [name, shape] of Object.entries(blockParamShapes(`mph.blocks.${i}`, dim, dim * mlpRatio))) {
      v[name] = makeVariable(owner, name, shape, shape.length === 2 ? xavierUniform(rng, shape[0]!, shape[1]!) : /norm\d\.weight$/.test(name) ? 'ones' : 'zeros');
    }
  }
  v['mph.norm.weight'] = makeVariable(owner, 'mph.norm.weight', [dim], 'ones');
  v['mph.norm.bias'] = makeVariable(owner, 'mph.norm.bias', [dim], 'zeros');
  return v;
}

/** MPH forward on every encoder token [B, T, D] -> [B, T, D]. */
export function maskPredictionHeadForward(params: ParamTree, tokens: tf.Tensor3D, depth: number, numHeads: number, eps: number): tf.Tensor3D {
  return tf.tidy(() => {
    let x = tokens;
    for (let i = 0; i < depth; i++) x = transformerBlock(x, params, `mph.blocks.${i}`, numHeads, eps);
    return layerNorm(x, param(params, 'mph.norm.weight'), param(params, 'mph.norm.bias'), eps) as tf.Tensor3D;
  });
}

/** MoCo v2's projection head `head.0` (Linear in -> hidden, bias), ReLU, `head.2` (Linear hidden -> out); torch's default init. */
export function maskCoHead(inDim: number, hiddenDim: number, outDim: number): MlpHeadConfig {
  return { dims: [inDim, hiddenDim, outDim], bias: true, batchNorm: 'none', activation: 'relu', init: 'torch-default' };
}

/** Region vectors [B, D] = A [B, L] times the patch tokens [B, L, D] (one weighted mean per row). */
export function poolRegions(a: tf.Tensor2D, tokens: tf.Tensor3D): tf.Tensor2D {
  if (a.shape[0] !== tokens.shape[0] || a.shape[1] !== tokens.shape[1]) throw new Error(`poolRegions: A [${a.shape}] for tokens [${tokens.shape}]`);
  return tf.tidy(() => tf.squeeze(tf.matMul(tf.expandDims(a, 1), tokens), [1]) as tf.Tensor2D);
}

const MaskCoState = z.object({ queuePointer: z.number().int().nonnegative() }).strict();

/** One step's sampled geometry: per image its views and region(s), and the rows of the batch. */
export interface MaskCoBatchPlan {
  pairs: RegionPair[];
  /** Per loss row (B, or 2B when symmetric: the second half is the b-masked direction). */
  queryRegions: TokenBox[];
  keyBoxes: Rect[];
}

export class MaskCoObjective implements Objective {
  readonly name = 'maskco';
  /** Two pipelines, the same steps: crop and flip (their geometry drawn by sampleViews), MoCo v2's photometry. */
  readonly views;
  readonly vit: VitConfig;
  readonly grid: number;
  readonly regionSize: [number, number];
  readonly encoder: VariableTree;
  readonly keyEncoder: EmaTeacher;
  readonly mph: VariableTree;
  readonly headConfig: MlpHeadConfig;
  readonly head: VariableTree;
  readonly keyHead: EmaTeacher;
  readonly maskToken: tf.Variable;
  /** [K, headOutDim] unit keys, frozen (trainable = false). */
  readonly queue: tf.Variable;
  private pointer = 0;
  /** This step's keys, kept by loss() for afterStep. */
  private pending: tf.Tensor2D | null = null;
  /** This step's views and regions, drawn by sampleViews for the loss() that follows. */
  private planned: MaskCoBatchPlan | null = null;

  constructor(
    readonly config: MaskCoConfig,
    context: ObjectiveContext,
  ) {
    const c = config;
    const [h, , ch] = context.imageShape;
    if (ch !== 1 && ch !== 3) throw new Error(`maskco: MoCo v2's augmentation needs 1- or 3-channel images, got ${ch}`);
    this.vit = vitConfigForImages(c.backbone, c.backboneOverrides, context.imageShape, 'maskco');
    this.grid = h / this.vit.patchSize;
    this.regionSize = c.regionSize ?? defaultRegionSize(this.grid);
    if (this.regionSize[1] > this.grid) throw new Error(`maskco: regionSize: ${this.regionSize[1]} tokens exceed the ${this.grid}x${this.grid} token grid`);
    const perStep = (c.symmetric ? 2 : 1) * context.batchSize;
    if (c.queueSize % perStep !== 0) {
      throw new Error(`maskco: queueSize: ${c.queueSize} is not a multiple of the ${perStep} keys enqueued per step (batch ${context.batchSize}${c.symmetric ? ', symmetric' : ''})`);
    }
    const rgb = ch === 3;
    const view: AugmentStepInput[] = [
      { type: 'randomResizedCrop', scale: c.cropScale, ratio: [3 / 4, 4 / 3] },
      { type: 'horizontalFlip', p: 0.5 },
      { type: 'colorJitter', p: 0.8, brightness: 0.4, contrast: 0.4, saturation: rgb ? 0.4 : 0, hue: rgb ? 0.1 : 0 },
      ...(rgb ? [{ type: 'grayscale', p: 0.2 } as const] : []),
      { type: 'gaussianBlur', p: 0.5, sigma: [0.1, 2] },
    ];
    this.views = [view, view] as const;
    const rng = context.rng;
    const d = this.vit.embedDim;
    this.encoder = createVit(this.vit, rng, `${OWNER}-query`).params;
    this.mph = createMaskPredictionHead(d, c.mphDepth, c.mphMlpRatio, rng);
    this.headConfig = maskCoHead(d, c.headHiddenDim, c.headOutDim);
    this.head = createMlpHead('head', this.headConfig, rng, OWNER);
    this.maskToken = makeVariable(OWNER, 'mask_token', [1, 1, d], rng.normalArray(d, 0, 0.02));
    const q = rng.normalArray(c.queueSize * c.headOutDim);
    for (let r = 0; r < c.queueSize; r++) {
      const row = q.subarray(r * c.headOutDim, (r + 1) * c.headOutDim);
      const norm = Math.max(Math.hypot(...row), 1e-12);
      for (let j = 0; j < row.length; j++) row[j]! /= norm;
    }
    this.queue = makeVariable(OWNER, 'queue', [c.queueSize, c.headOutDim], q, false);
    this.keyEncoder = new EmaTeacher(this.encoder, `${OWNER}-key`);
    this.keyHead = new EmaTeacher(this.head, `${OWNER}-key`);
  }

  private learnable(): VariableTree {
    return { ...prefixed('encoder.', this.encoder), ...this.mph, ...this.head, mask_token: this.maskToken };
  }

  paramGroups(): ParamGroup[] {
    return splitDecay(this.learnable());
  }

  variables(): VariableTree {
    return { ...this.learnable(), ...prefixed('key_encoder.', this.keyEncoder.params), ...prefixed('key_', this.keyHead.params), queue: this.queue };
  }

  /** Draws every image's views and region(s) (see sampleRegionPair) and lays out the loss rows. */
  plan(batch: number, rng: Rng): MaskCoBatchPlan {
    const c = this.config;
    const p = this.vit.patchSize;
    const s = this.vit.imageSize;
    const o = { height: s, width: s, patch: p, scale: c.cropScale, ratio: [3 / 4, 4 / 3] as const, regionSize: this.regionSize, symmetric: c.symmetric };
    const pairs = Array.from({ length: batch }, () => sampleRegionPair(rng, o));
    const queryRegions = pairs.map((x) => x.regionA);
    const keyBoxes = pairs.map((x) => mapTokenBox(x.regionA, x.a, x.b, p));
    if (c.symmetric) {
      queryRegions.push(...pairs.map((x) => x.regionB!));
      keyBoxes.push(...pairs.map((x) => mapTokenBox(x.regionB!, x.b, x.a, p)));
    }
    return { pairs, queryRegions, keyBoxes };
  }

  /**
   * The crops and flips of both views, drawn per image with its region(s) (plan): the pipelines crop
   * and flip with these, and the loss() of the same step takes the regions.
   */
  sampleViews(batchSize: number, rng: Rng): ViewGeometrySample[] {
    const plan = this.plan(batchSize, rng);
    this.planned = plan;
    const of = (g: ViewGeometry[]): ViewGeometrySample => ({ crops: g.map((x) => x.crop), flips: g.map((x) => x.flip) });
    return [of(plan.pairs.map((x) => x.a)), of(plan.pairs.map((x) => x.b))];
  }

  /** q [N, d]: (masked) query images through the encoder, the MPH, region pooling A and the head. */
  query(images: tf.Tensor4D, regions: TokenBox[]): tf.Tensor2D {
    const g = this.grid;
    const n = regions.length;
    return tf.tidy(() => {
      const a = tf.tensor2d(concatFloat32(regions.map((r) => uniformPoolingRow(r, g))), [n, g * g]);
      const mask = tf.cast(tf.greater(a, 0), 'float32') as tf.Tensor2D;
      let x = images;
      if (this.config.maskFill === 'pixel') {
        const p = this.vit.patchSize;
        const pixels = tf.reshape(tf.tile(tf.reshape(mask, [n, g, 1, g, 1]), [1, 1, p, 1, p]), [n, g * p, g * p, 1]);
        x = tf.add(tf.mul(images, tf.sub(1, pixels)), tf.mul(tf.mean(images, [0, 1, 2]), pixels)) as tf.Tensor4D;
      }
      const opts = this.config.maskFill === 'token' ? { mask, maskToken: this.maskToken } : {};
      const tokens = vitForward(this.vit, this.encoder, x, opts).tokens;
      const z = maskPredictionHeadForward(this.mph, tokens, this.config.mphDepth, this.vit.numHeads, this.vit.layerNormEps);
      return l2Normalize(mlpHeadForward('head', this.headConfig, this.head, poolRegions(a, this.patchTokens(z))));
    });
  }

  /** k+ [N, d]: unmasked key images through the key encoder, RoIAlign pooling and the key head; off the gradient tape. */
  key(images: tf.Tensor4D, boxes: Rect[]): tf.Tensor2D {
    const g = this.grid;
    return tf.tidy(() => {
      const a = tf.tensor2d(concatFloat32(boxes.map((b) => bilinearPoolingRow(b, g, this.config.roiSamples))), [boxes.length, g * g]);
      return noGrad(() => {
        const tokens = vitForward(this.vit, this.keyEncoder.params, images, { inference: true }).tokens;
        return l2Normalize(mlpHeadForward('head', this.headConfig, this.keyHead.params, poolRegions(a, this.patchTokens(tokens))));
      });
    });
  }

  /** Shape [B, L, D]: the patch tokens (class token dropped). */
  private patchTokens(tokens: tf.Tensor3D): tf.Tensor3D {
    return tf.slice(tokens, [0, this.vit.classToken ? 1 : 0, 0], [-1, -1, -1]);
  }

  loss(views: tf.Tensor4D[]): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    if (views.length !== 2) throw new Error(`maskco: loss expects 2 views, got ${views.length}`);
    const [viewA, viewB] = views as [tf.Tensor4D, tf.Tensor4D];
    const [b, h, w, ch] = viewA.shape;
    const s = this.vit.imageSize;
    if (h !== s || w !== s || ch !== this.vit.inChannels) throw new Error(`maskco: views [${viewA.shape}] for a ${s}x${s}x${this.vit.inChannels} backbone`);
    const plan = this.planned;
    this.planned = null;
    if (!plan || plan.pairs.length !== b) throw new Error(`maskco: loss needs this batch's crops and regions from sampleViews (${b} images; the trainer calls it before the pipelines)`);
    const n = (this.config.symmetric ? 2 : 1) * b;
    if (this.config.queueSize % n !== 0) throw new Error(`maskco: queueSize ${this.config.queueSize} is not a multiple of the ${n} keys of a batch of ${b}`);
    const sym = this.config.symmetric;
    const q = this.query(sym ? tf.concat([viewA, viewB]) : viewA, plan.queryRegions);
    const k = this.key(sym ? tf.concat([viewB, viewA]) : viewB, plan.keyBoxes);
    const { loss, logits } = infoNce(q, k, { temperature: this.config.temperature, queue: stopGradient(this.queue as tf.Tensor2D), normalized: true });
    if (this.pending) this.pending.dispose();
    this.pending = tf.keep(k);
    const metrics = {
      contrastAcc: tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), 0), 'float32')) as tf.Scalar,
      positiveSim: tf.mean(tf.sum(tf.mul(q, k), 1)) as tf.Scalar,
      fallbackRate: tf.scalar(plan.pairs.filter((x) => x.fallback).length / b),
    };
    return { loss, metrics };
  }

  /** Enqueues the step's keys (the trainer then moves the key encoder and head: momentumPairs). */
  afterStep(): void {
    if (!this.pending) return;
    const next = ringWrite(this.queue as tf.Tensor2D, this.pending, this.pointer);
    this.queue.assign(next.buffer);
    next.buffer.dispose();
    this.pointer = next.pointer;
    this.pending.dispose();
    this.pending = null;
  }

  momentumPairs(): MomentumPairs {
    const pairs = [{ student: this.encoder, teacher: this.keyEncoder }, { student: this.head, teacher: this.keyHead }];
    return { pairs, momentum: this.config.momentum, momentumEnd: this.config.momentumEnd };
  }

  /** The query encoder, as MoCo evaluates encoder_q. */
  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.encoder };
  }

  getState(): Record<string, unknown> {
    return { queuePointer: this.pointer };
  }

  setState(state: Record<string, unknown>): void {
    const r = MaskCoState.safeParse(state);
    if (!r.success) throw new Error(`maskco state: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    const p = r.data.queuePointer;
    if (p >= this.config.queueSize) throw new Error(`maskco state: queuePointer: ${p} is outside the queue of ${this.config.queueSize}`);
    this.pointer = p;
  }

  dispose(): void {
    if (this.pending) this.pending.dispose();
    this.pending = null;
    tf.dispose([...Object.values(this.encoder), ...Object.values(this.mph), ...Object.values(this.head), this.maskToken, this.queue]);
    this.keyEncoder.dispose();
    this.keyHead.dispose();
  }
}

export const maskco = {
  name: 'maskco',
  summary: 'MaskCo (Zhao et al. 2021): a masked region of one view predicts, through a mask prediction head, the momentum key of the same region in the other view (region-level InfoNCE with a queue)',
  configSchema: MaskCoConfig,
  presets: {
    // 28x28x1, 7x7 tokens (vit-mini/4), regions of 2-4 tokens a side; the head 4x the encoder's width
    // (512 hidden for 128, as our MoCo v3 preset), MoCo v2's 128 out; a queue of 4096 (well below the 60k images, a multiple of the batch 64); MoCo v3's cosine momentum
    // 0.99 -> 1 for short runs (maskco.md), as our MoCo v3 baseline.
    'fashion-mnist': { backbone: 'vit-mini/4', headHiddenDim: 512, headOutDim: 128, queueSize: 4096, momentum: 0.99, momentumEnd: 1 },
  },
  trainerPresets: {
    // As our MoCo v3 baseline, for a fair head-to-head (maskco.md): AdamW betas (0.9, 0.999), weight
    // decay 0.1, a 40/300 warmup, then a cosine to 0. MoCo v3's lr is 1.5e-4 * batch / 256 = 3.75e-5
    // at batch 64, tuned for 300 ImageNet epochs: it would barely move a minutes-long run. 1e-3 is
    // within the absolute rates that recipe reaches at its batch sizes (6e-4 to 2.4e-3).
    'fashion-mnist': { batchSize: 64, lr: 1e-3, minLr: 0, warmup: 40 / 300, weightDecay: 0.1, betas: [0.9, 0.999] },
  },
  create: (config, context) => new MaskCoObjective(config, context),
} satisfies ObjectiveDefinition<typeof MaskCoConfig>;
