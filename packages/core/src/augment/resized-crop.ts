// Random resized crop, as torchvision's RandomResizedCrop: per sample, a box covering a uniform
// fraction `scale` of the image area with a log-uniform aspect ratio `ratio` (10 attempts, then a
// centre crop clamped to the ratio range), resized bilinearly to the output size with
// tf.image.cropAndResize. Sample positions are torch's (half-pixel centres, align_corners=False);
// two differences from torchvision's crop-then-resize: no antialiasing when downscaling (as
// `antialias=False`), and a sample less than half a pixel outside the box (first/last output rows
// and columns when upscaling) interpolates with the image pixel next to the box, where torch clamps
// to the box edge; outside the image it reads the replicated image border, as torch does.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../util/rng.js';
import { imageShape } from './common.js';
import { parseOrThrow } from '../util/config.js';

/** A crop in pixels: rows [top, top + height), columns [left, left + width). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

const range = (max: number | null) =>
  z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([lo, hi]) => lo <= hi, { message: 'lower bound must be <= upper bound' })
    .refine(([, hi]) => max === null || hi <= max, { message: `upper bound must be <= ${max}` });

export const ResizedCropOptions = z
  .object({
    /** Output [height, width] (a number for a square); default: the input size. */
    size: z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]).optional(),
    /** Range of the crop's area as a fraction of the image's. */
    scale: range(1).default([0.08, 1]),
    /** Range of the crop's aspect ratio width / height, sampled log-uniformly. */
    ratio: range(null).default([3 / 4, 4 / 3]),
  })
  .strict();
export type ResizedCropOptions = z.output<typeof ResizedCropOptions>;
export type ResizedCropOptionsInput = z.input<typeof ResizedCropOptions>;

/** Python's round(): halves go to the even neighbour (torchvision computes box sizes with it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * One box as torchvision's `RandomResizedCrop.get_params` draws it. Per attempt (at most 10): area
 * fraction ~ U(scale), log aspect ~ U(log ratio) (2 draws), then, if the box fits, top and left
 * uniform integers (2 more draws). Otherwise the fallback is the centre crop of the whole image with
 * its aspect ratio clamped into `ratio`.
 */
export function sampleResizedCropBox(
  rng: Rng,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * Crops box b out of image b and resizes it to `size` = [outH, outW] bilinearly (half-pixel centres,
 * border clamped): output pixel (y, x) samples the input at row top + (y + 0.5) * height / outH - 0.5,
 * and likewise for columns. Implemented as tf.image.cropAndResize on the images padded by one
 * replicated edge pixel, so samples up to half a pixel outside the image read the border value.
 */
export function resizedCrop(images: tf.Tensor4D, boxes: readonly CropBox[], size: readonly [number, number]): tf.Tensor4D {
  const [batch, height, width] = imageShape(images, 'resizedCrop');
  if (boxes.length !== batch) throw new Error(`resizedCrop: expected ${batch} boxes (one per sample), got ${boxes.length}`);
  const [outH, outW] = size;
  if (!(Number.isInteger(outH) && outH > 0 && Number.isInteger(outW) && outW > 0)) {
    throw new Error(`resizedCrop: size must be two positive integers, got [${size.join(', ')}]`);
  }
  const coords = new Float32Array(batch * 4);
  boxes.forEach((b, i) => {
    if (!(b.height > 0 && b.width > 0 && b.top >= 0 && b.left >= 0 && b.top + b.height <= height && b.left + b.width <= width)) {
      throw new Error(`resizedCrop: box ${i} ${JSON.stringify(b)} is empty or outside the ${height}x${width} image`);
    }
    // First and last sample positions in padded pixel coordinates (+1 for the pad), normalised by
    // (padded size - 1) as cropAndResize expects; its linear spacing between them is then height / outH.
    const y0 = b.top + (0.5 * b.height) / outH - 0.5 + 1;
    const y1 = b.top + b.height - (0.5 * b.height) / outH - 0.5 + 1;
    const x0 = b.left + (0.5 * b.width) / outW - 0.5 + 1;
    const x1 = b.left + b.width - (0.5 * b.width) / outW - 0.5 + 1;
    coords.set([y0 / (height + 1), x0 / (width + 1), y1 / (height + 1), x1 / (width + 1)], i * 4);
  });
  return tf.tidy(() => {
    const padded = tf.mirrorPad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric');
    const boxInd = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i), 'int32');
    return tf.image.cropAndResize(padded, tf.tensor2d(coords, [batch, 4]), boxInd, [outH, outW], 'bilinear');
  });
}

/** Output [height, width] of a crop step for an input of the given size. */
export function cropOutputSize(size: ResizedCropOptions['size'], height: number, width: number): [number, number] {
  if (size === undefined) return [height, width];
  return typeof size === 'number' ? [size, size] : [size[0], size[1]];
}

/** RandomResizedCrop on every sample (boxes drawn in sample order, see sampleResizedCropBox). */
export function randomResizedCrop(images: tf.Tensor4D, options: ResizedCropOptionsInput, rng: Rng): tf.Tensor4D {
  const o = parseOrThrow(ResizedCropOptions, options, 'randomResizedCrop options');
  const [batch, height, width] = imageShape(images, 'randomResizedCrop');
  const boxes = Array.from({ length: batch }, () => sampleResizedCropBox(rng, height, width, o.scale, o.ratio));
  return resizedCrop(images, boxes, cropOutputSize(o.size, height, width));
}
