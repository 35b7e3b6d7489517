// Gaussian blur with a per-sample sigma, as torchvision's GaussianBlur(kernelSize, sigma) (kernel
// `_get_gaussian_kernel1d`, reflect padding), wrapped in a probability p as the SSL recipes do.
// All samples are blurred in one pass: the batch is moved into the channel axis
// ([B, H, W, C] -> [1, H, W, B*C]), reflect-padded, and convolved depthwise twice (a [k, 1] then a
// [1, k] filter), channel b*C + c carrying sample b's 1-D kernel. Samples not blurred (or sigma 0)
// get the delta kernel and come back unchanged. The kernel size is fixed per step; by default the
// odd number nearest 10% of the smaller image side (BYOL's 23 px at 224), at least 3.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { checkPerSample, imageShape } from './common.js';
import { parseOrThrow } from '../util/config.js';

export const BlurOptions = z
  .object({
    p: z.number().min(0).max(1).default(1),
    /** Range of sigma in pixels, drawn uniformly per sample. */
    sigma: z
      .tuple([z.number().positive(), z.number().positive()])
      .refine(([lo, hi]) => lo <= hi, { message: 'lower bound must be <= upper bound' })
      .default([0.1, 2]),
    /** Odd kernel side; default: defaultBlurKernelSize of the image. */
    kernelSize: z
      .number()
      .int()
      .positive()
      .refine((k) => k % 2 === 1, { message: 'kernelSize must be odd' })
      .optional(),
  })
  .strict();
export type BlurOptions = z.output<typeof BlurOptions>;

/** The odd integer nearest 10% of min(height, width), at least 3. */
export function defaultBlurKernelSize(height: number, width: number): number {
  return Math.max(3, 2 * Math.floor(0.05 * Math.min(height, width)) + 1);
}

/**
 * torchvision's 1-D Gaussian kernel: exp(-x^2 / (2 sigma^2)) at x = -(k-1)/2 .. (k-1)/2, divided by
 * its sum. sigma 0 gives the delta kernel (no blur).
 */
export function gaussianKernel1d(sigma: number, kernelSize: number): Float32Array {
  if (!(Number.isInteger(kernelSize) && kernelSize > 0 && kernelSize % 2 === 1)) {
    throw new Error(`gaussianKernel1d: kernelSize must be a positive odd integer, got ${kernelSize}`);
  }
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new Error(`gaussianKernel1d: sigma must be >= 0, got ${sigma}`);
  const half = (kernelSize - 1) / 2;
  const k = new Float64Array(kernelSize);
  if (sigma === 0) k[half] = 1;
  else for (let i = 0; i < kernelSize; i++) k[i] = Math.exp(-0.5 * ((i - half) / sigma) ** 2);
  const sum = k.reduce((a, b) => a + b, 0);
  return Float32Array.from(k, (v) => v / sum);
}

/**
 * Blurs sample b with sigmas[b] (0 = unchanged) and a kernelSize x kernelSize separable Gaussian,
 * reflect padding. Needs (kernelSize - 1) / 2 < min(H, W).
 */
export function gaussianBlur(images: tf.Tensor4D, sigmas: ArrayLike<number>, kernelSize: number): tf.Tensor4D {
  const [batch, height, width, channels] = imageShape(images, 'gaussianBlur');
  checkPerSample(sigmas, batch, 'gaussianBlur sigmas');
  const pad = (kernelSize - 1) / 2;
  if (pad >= height || pad >= width) {
    throw new Error(`gaussianBlur: kernelSize ${kernelSize} needs images larger than ${pad}x${pad} (reflect padding), got ${height}x${width}`);
  }
  const bc = batch * channels;
  const filter = new Float32Array(kernelSize * bc);
  for (let b = 0; b < batch; b++) {
    const k = gaussianKernel1d(sigmas[b]!, kernelSize);
    for (let i = 0; i < kernelSize; i++) filter.fill(k[i]!, i * bc + b * channels, i * bc + (b + 1) * channels);
  }
  return tf.tidy(() => {
    if (Array.from(sigmas).every((s) => s === 0)) return images.clone();
    const x = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, height, width, bc]) as tf.Tensor4D;
    const padded = tf.mirrorPad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], 'reflect');
    const vertical = tf.depthwiseConv2d(padded, tf.tensor4d(filter, [kernelSize, 1, bc, 1]), 1, 'valid');
    const both = tf.depthwiseConv2d(vertical, tf.tensor4d(filter, [1, kernelSize, bc, 1]), 1, 'valid');
    return tf.transpose(tf.reshape(both, [height, width, batch, channels]), [2, 0, 1, 3]) as tf.Tensor4D;
  });
}

/**
 * With probability p per sample, blurs with sigma ~ U(sigma). Per sample: one rng.next() for the
 * coin, then one uniform for sigma (drawn whatever the coin says).
 */
export function randomGaussianBlur(images: tf.Tensor4D, options: z.input<typeof BlurOptions>, rng: Rng): tf.Tensor4D {
  const o = parseOrThrow(BlurOptions, options, 'gaussianBlur options');
  const [batch, height, width] = imageShape(images, 'randomGaussianBlur');
  const sigmas = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    const apply = rng.next() < o.p;
    const sigma = rng.uniform(o.sigma[0], o.sigma[1]);
    sigmas[b] = apply ? sigma : 0;
  }
  return gaussianBlur(images, sigmas, o.kernelSize ?? defaultBlurKernelSize(height, width));
}
