// MFM: "Masked Frequency Modeling for Self-Supervised Visual Pre-Training" (Xie et al., ICLR 2023;
// reference Jiahao000/MFM, models/mfm.py, models/frequency_loss.py, data/data_mfm.py), re-derived on
// the core primitives. Each image's 2-D spectrum is masked by a circular filter of radius r around DC:
// with probability 0.5 a low-pass one (the high frequencies, distance >= r, are masked), else a
// high-pass one (the low frequencies, distance < r); the inverse transform's real part, clamped to
// [0, 1], is the corrupted image. The FULL encoder (no mask tokens) runs on it; a linear head (the
// reference's 1x1 convolution + PixelShuffle) predicts each patch's p*p*C pixels; the reassembled
// image's spectrum is compared with the clean image's, on the masked frequencies only: the
// reference's frequency loss, |F(pred) - F(x)| (the complex distance, orthonormal FFT, sqrt with eps
// 1e-12, to the power `lossGamma` = 1), averaged over the masked frequencies of every channel. The
// reference's ViT runs it without the focal spectrum weight matrix (with_matrix false), so does this.
// The transforms are spectrum.ts's real-matmul DFT, differentiable on every backend.
// Adaptations: the reference's radius is fixed (16 at 224x224; the `fashion-mnist` preset scales it
// to 2 at 28x28); `maskRadius: [lo, hi]` draws one per image, uniformly, instead. Masks are drawn per
// image from the run's Rng; views stay in [0, 1] without ImageNet normalisation (the reference
// normalises both the corrupted input and the target after the corruption). The head keeps torch's
// Conv2d default init (U(+-1/sqrt(fan_in))); the encoder is the shared ViT (createVit's init,
// fixed sin-cos positions where the reference learns absolute ones).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  backboneFields, checkBackboneOverrides, createMlpHead, createVit, gridSize, linear, param, parseOrThrow, simpleCropFlip, splitDecay, unpatchify,
  VitConfig, vitConfigForImages, vitForward, type LossResult, type Objective, type ObjectiveContext, type ObjectiveDefinition, type ParamGroup,
  type Rng, type StepInfo, type VariableTree,
} from '@maskedssl/core';
import { fft2d, frequencyRadii, ifft2d } from './spectrum.js';

const Radius = z.number().positive();

export const MfmConfig = z
  .object({
    ...backboneFields('vit-base/16'),
    /** Filter radius in frequency-index units (the reference's MASK_RADIUS1), or [lo, hi] to draw one per image. */
    maskRadius: z.union([Radius, z.tuple([Radius, Radius])]).default(16),
    /** Probability of a low-pass filter (masking the high frequencies); the reference's SAMPLE_RATIO. */
    lowPassProb: z.number().min(0).max(1).default(0.5),
    /** Exponent of the frequency distance (the reference's LOSS_GAMMA). */
    lossGamma: z.number().positive().default(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (Array.isArray(c.maskRadius) && c.maskRadius[0] > c.maskRadius[1]) {
      ctx.addIssue({ code: 'custom', path: ['maskRadius'], message: `lower bound ${c.maskRadius[0]} is above upper bound ${c.maskRadius[1]}` });
    }
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
  });
export type MfmConfig = z.output<typeof MfmConfig>;
export type MfmConfigInput = z.input<typeof MfmConfig>;

/** Validates an MFM config and fills defaults; the error names every bad field. */
export function parseMfmConfig(input: unknown): MfmConfig {
  return parseOrThrow(MfmConfig, input, 'mfm config');
}

/**
 * Per-image frequency masks [B, H, W], 1 at the masked frequencies (unshifted DFT layout). For each
 * image in turn: a low-pass filter with probability `lowPassProb` (masks distance >= r) else a
 * high-pass one (masks distance < r); r is `radius`, or uniform in [lo, hi) when a pair. A new tensor.
 */
export function sampleFrequencyMasks(rng: Rng, batchSize: number, h: number, w: number, radius: number | [number, number], lowPassProb: number): tf.Tensor3D {
  const radii = frequencyRadii(h, w);
  const out = new Float32Array(batchSize * h * w);
  for (let b = 0; b < batchSize; b++) {
    const lowPass = rng.next() < lowPassProb;
    const r = typeof radius === 'number' ? radius : rng.uniform(radius[0], radius[1]);
    radii.forEach((d, i) => (out[b * h * w + i] = (d >= r) === lowPass ? 1 : 0));
  }
  return tf.tensor3d(out, [batchSize, h, w]);
}

/** The corrupted images: real(ifft2(fft2(x) * (1 - masked))) clamped to [0, 1], per channel. [B, H, W, C], masked [B, H, W]. */
export function mfmCorrupt(images: tf.Tensor4D, masked: tf.Tensor3D): tf.Tensor4D {
  return tf.tidy(() => {
    const keep = tf.expandDims(tf.sub(1, masked), 1); // [B, 1, H, W] over [B, C, H, W]
    const f = fft2d(tf.transpose(images, [0, 3, 1, 2]));
    const x = ifft2d({ re: tf.mul(f.re, keep), im: tf.mul(f.im, keep) }).re;
    return tf.transpose(tf.clipByValue(x, 0, 1), [0, 2, 3, 1]) as tf.Tensor4D;
  });
}

/**
 * MFM's frequency loss: pred and target images [B, H, W, C], masked [B, H, W] (1 at masked
 * frequencies). d = sqrt(|F(pred) - F(target)|^2 + eps)^gamma with the orthonormal 2-D DFT of each
 * channel (computed as F(pred - target), the same by linearity), summed over masked (b, c, u, v) /
 * (masked count * C). A new scalar.
 */
export function mfmFrequencyLoss(pred: tf.Tensor4D, target: tf.Tensor4D, masked: tf.Tensor3D, gamma = 1, eps = 1e-12): tf.Scalar {
  if (pred.shape.join() !== target.shape.join()) throw new Error(`mfmFrequencyLoss: pred [${pred.shape}] and target [${target.shape}] differ`);
  if (masked.shape.join() !== pred.shape.slice(0, 3).join()) throw new Error(`mfmFrequencyLoss: masked [${masked.shape}] for images [${pred.shape}]`);
  return tf.tidy(() => {
    const f = fft2d(tf.transpose(tf.sub(pred, target), [0, 3, 1, 2]), 'ortho');
    let d = tf.sqrt(tf.add(tf.add(tf.square(f.re), tf.square(f.im)), eps));
    if (gamma !== 1) d = tf.pow(d, gamma);
    const total = tf.sum(tf.mul(d, tf.expandDims(masked, 1)));
    return tf.div(total, tf.mul(tf.sum(masked), pred.shape[3])) as tf.Scalar;
  });
}

export class MfmObjective implements Objective {
  readonly name = 'mfm';
  readonly views;
  readonly vit: VitConfig;
  readonly encoder: VariableTree;
  /** The head, named as the reference's `decoder.0` (a 1x1 conv): [D] -> [p*p*C], torch's default init. */
  readonly head: VariableTree;
  private readonly imageSize: [number, number];

  constructor(
    readonly config: MfmConfig,
    context: ObjectiveContext,
  ) {
    const [h, w, ch] = context.imageShape;
    this.imageSize = [h, w];
    this.vit = vitConfigForImages(config.backbone, config.backboneOverrides, context.imageShape, 'mfm');
    const maxRadius = typeof config.maskRadius === 'number' ? config.maskRadius : config.maskRadius[1];
    if (maxRadius >= h / 2) throw new Error(`mfm: maskRadius ${maxRadius} must be below half the image side (${h / 2})`);
    this.views = [simpleCropFlip({ channels: ch })] as const;
    this.encoder = createVit(this.vit, context.rng, 'mfm').params;
    this.head = createMlpHead('decoder', { dims: [this.vit.embedDim, this.vit.patchSize ** 2 * ch], init: 'torch-default' }, context.rng, 'mfm');
  }

  paramGroups(): ParamGroup[] {
    return splitDecay(this.variables());
  }

  variables(): VariableTree {
    return { ...this.encoder, ...this.head };
  }

  loss(views: tf.Tensor4D[], _info: StepInfo, rng: Rng): LossResult {
    const view = views[0]!;
    const [h, w] = this.imageSize;
    const [g, d] = [gridSize(this.vit), this.vit.embedDim];
    const masked = sampleFrequencyMasks(rng, view.shape[0], h, w, this.config.maskRadius, this.config.lowPassProb);
    const tokens = vitForward(this.vit, this.encoder, mfmCorrupt(view, masked)).tokens;
    const patches = linear(tf.slice(tokens, [0, 1, 0], [-1, g * g, d]), param(this.head, 'decoder.0.weight'), param(this.head, 'decoder.0.bias')) as tf.Tensor3D;
    return { loss: mfmFrequencyLoss(unpatchify(patches, this.vit.patchSize, g, g), view, masked, this.config.lossGamma) };
  }

  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.encoder };
  }

  dispose(): void {
    tf.dispose(Object.values(this.variables()));
  }
}

export const mfm = {
  name: 'mfm',
  summary: 'MFM (Xie et al. 2023): low- or high-pass filter the image, the full encoder, a linear head; loss on the masked frequencies of its spectrum',
  configSchema: MfmConfig,
  presets: {
    // 28x28x1, 7x7 tokens (vit-mini/4, as the other baselines' presets); the reference's radius 16 at
    // 224 scaled to the image (16 * 28 / 224 = 2: a low-pass filter keeps the 9 lowest of 784 frequencies).
    'fashion-mnist': { backbone: 'vit-mini/4', maskRadius: 2 },
  },
  // The reference's ViT recipe: AdamW betas (0.9, 0.95), wd 0.05, clip 3, warmup + cosine; at MAE's lr,
  // warmup and batch for minutes-long runs (its 3e-4 * batch / 512 over 300 epochs gives 3.75e-5 at 64).
  trainerPresets: { 'fashion-mnist': { batchSize: 64, lr: 1e-3, minLr: 1e-5, warmup: 0.05, weightDecay: 0.05, betas: [0.9, 0.95], clipGradNorm: 3 } },
  create: (config, context) => new MfmObjective(config, context),
} satisfies ObjectiveDefinition<typeof MfmConfig>;
