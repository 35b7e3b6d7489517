// Augmentation pipelines: a list of configured steps (validated by zod, with every bad field named in
// the error, and checked against the image channel count), applied in order with per-sample random
// parameters from one Rng, and the two-view generator the SSL methods train on. `augmentView` also
// returns the geometry its crop and flip steps used (per image), and takes it instead of drawing it
// when a method draws the views' geometry jointly (MaskCo's overlapping crops, Objective.sampleViews).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { randomGaussianBlur, BlurOptions } from './blur.js';
import { colorJitter, ColorJitterOptions } from './color-jitter.js';
import { coins, imageShape } from './common.js';
import { formatPath, parseOrThrow } from '../util/config.js';
import { FlipOptions, horizontalFlip } from './flip.js';
import { GrayscaleOptions, randomGrayscale } from './grayscale.js';
import { normalize, NormalizeOptions } from './normalize.js';
import { cropOutputSize, resizedCrop, ResizedCropOptions, sampleResizedCropBox, type CropBox } from './resized-crop.js';
import { randomSolarize, SolarizeOptions } from './solarize.js';

/** One configured step; the options of each are those of the matching function. */
export const AugmentStep = z.discriminatedUnion('type', [
  ResizedCropOptions.safeExtend({ type: z.literal('randomResizedCrop') }),
  FlipOptions.safeExtend({ type: z.literal('horizontalFlip') }),
  ColorJitterOptions.safeExtend({ type: z.literal('colorJitter') }),
  GrayscaleOptions.safeExtend({ type: z.literal('grayscale') }),
  BlurOptions.safeExtend({ type: z.literal('gaussianBlur') }),
  SolarizeOptions.safeExtend({ type: z.literal('solarize') }),
  NormalizeOptions.safeExtend({ type: z.literal('normalize') }),
]);
export type AugmentStep = z.output<typeof AugmentStep>;
export type AugmentStepInput = z.input<typeof AugmentStep>;

/** A validated pipeline (defaults filled in). */
export type AugmentPipeline = AugmentStep[];
const PipelineSchema = z.array(AugmentStep);

/**
 * What a pipeline cannot do with `channels`-channel images. Decision for grayscale (C = 1): steps
 * that make no sense are errors, not silent no-ops: colorJitter.saturation and .hue must be 0 and a
 * `grayscale` step is rejected (both need RGB); contrast needs 1 or 3 channels; normalize needs one
 * mean and std per channel.
 */
function channelIssues(steps: AugmentPipeline, channels: number): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const needRgb = `needs RGB images (3 channels), got ${channels}`;
  steps.forEach((s, i) => {
    switch (s.type) {
      case 'colorJitter':
        if (s.saturation > 0 && channels !== 3) issues.push({ path: [i, 'saturation'], message: `${needRgb}; set it to 0` });
        if (s.hue > 0 && channels !== 3) issues.push({ path: [i, 'hue'], message: `${needRgb}; set it to 0` });
        if (s.contrast > 0 && channels !== 1 && channels !== 3) {
          issues.push({ path: [i, 'contrast'], message: `needs 1 or 3 channels, got ${channels}` });
        }
        break;
      case 'grayscale':
        if (channels !== 3) issues.push({ path: [i, 'type'], message: `grayscale ${needRgb}; drop this step` });
        break;
      case 'normalize':
        if (s.mean.length !== channels) issues.push({ path: [i, 'mean'], message: `needs one entry per channel (${channels}), got ${s.mean.length}` });
        if (s.std.length !== channels) issues.push({ path: [i, 'std'], message: `needs one entry per channel (${channels}), got ${s.std.length}` });
        break;
      default:
        break;
    }
  });
  return issues;
}

/**
 * Validates a list of steps (defaults filled in) and, when `channels` is given, that every step can
 * run on images with that many channels. Throws one error naming every bad field as `steps[i].field`.
 */
export function parsePipeline(input: unknown, channels?: number): AugmentPipeline {
  const steps = parseOrThrow(PipelineSchema, input, 'augmentation pipeline', 'steps');
  if (channels !== undefined) {
    if (!(Number.isInteger(channels) && channels > 0)) throw new Error(`parsePipeline: channels must be a positive integer, got ${channels}`);
    const issues = channelIssues(steps, channels);
    if (issues.length > 0) {
      throw new Error(`invalid augmentation pipeline for ${channels}-channel images: ${issues.map((i) => `${formatPath('steps', i.path)}: ${i.message}`).join('; ')}`);
    }
  }
  return steps;
}

/** The geometry of one view, per image: the crop box of its crop step and the flag of its flip step. */
export interface ViewGeometrySample {
  crops?: CropBox[];
  flips?: boolean[];
}

function applyStep(images: tf.Tensor4D, step: AugmentStep, rng: Rng, geometry: ViewGeometrySample, given?: ViewGeometrySample): tf.Tensor4D {
  switch (step.type) {
    case 'randomResizedCrop': {
      const [batch, height, width] = images.shape;
      geometry.crops = given?.crops ?? Array.from({ length: batch }, () => sampleResizedCropBox(rng, height, width, step.scale, step.ratio));
      return resizedCrop(images, geometry.crops, cropOutputSize(step.size, height, width));
    }
    case 'horizontalFlip':
      geometry.flips = given?.flips ?? coins(rng, images.shape[0], step.p);
      return horizontalFlip(images, geometry.flips);
    case 'colorJitter': {
      const { type: _, ...o } = step;
      return colorJitter(images, o, rng);
    }
    case 'grayscale': {
      const { type: _, ...o } = step;
      return randomGrayscale(images, o, rng);
    }
    case 'gaussianBlur': {
      const { type: _, ...o } = step;
      return randomGaussianBlur(images, o, rng);
    }
    case 'solarize': {
      const { type: _, ...o } = step;
      return randomSolarize(images, o, rng);
    }
    case 'normalize':
      return normalize(images, step.mean, step.std);
  }
}

/**
 * Applies the steps in order to a float32 [B, H, W, C] batch in [0, 1], drawing every random
 * parameter from `rng` (step by step, sample by sample), inside tf.tidy. The steps are validated
 * against C on every call. Returns a new tensor the caller disposes; `images` is not disposed.
 */
export function applyPipeline(images: tf.Tensor4D, steps: readonly AugmentStepInput[], rng: Rng): tf.Tensor4D {
  return augmentView(images, steps, rng).view;
}

/**
 * applyPipeline that also returns the geometry its crop and flip steps used, and uses `given` crops
 * and flips (one per image) instead of drawing them: then only the other steps draw from `rng`. A
 * pipeline takes given geometry only with at most one crop step and one flip step.
 */
export function augmentView(images: tf.Tensor4D, steps: readonly AugmentStepInput[], rng: Rng, given?: ViewGeometrySample): { view: tf.Tensor4D; geometry: ViewGeometrySample } {
  const channels = imageShape(images, 'augmentView')[3];
  const parsed = parsePipeline(steps, channels);
  if (given) {
    for (const type of ['randomResizedCrop', 'horizontalFlip'] as const) {
      if (parsed.filter((s) => s.type === type).length > 1) throw new Error(`augmentView: given geometry for a pipeline with more than one ${type} step`);
    }
  }
  const geometry: ViewGeometrySample = {};
  const view = tf.tidy(() => {
    let x = images;
    for (const step of parsed) {
      const next = applyStep(x, step, rng, geometry, given);
      if (x !== images) x.dispose();
      x = next;
    }
    return x === images ? images.clone() : x;
  });
  return { view, geometry };
}

/**
 * Two independently augmented views of the same batch. Each view gets its own generator forked from
 * `rng` (view 1's first), so the parameters of one view do not depend on the other pipeline.
 * Returns [view1, view2]; the caller disposes both.
 */
export function twoViews(
  images: tf.Tensor4D,
  pipeline1: readonly AugmentStepInput[],
  pipeline2: readonly AugmentStepInput[],
  rng: Rng,
): [tf.Tensor4D, tf.Tensor4D] {
  const rng1 = rng.fork();
  const rng2 = rng.fork();
  const view1 = applyPipeline(images, pipeline1, rng1);
  try {
    return [view1, applyPipeline(images, pipeline2, rng2)];
  } catch (e) {
    view1.dispose();
    throw e;
  }
}
