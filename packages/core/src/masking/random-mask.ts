// Per-sample random token masking, as MAE's `random_masking` (lightly's `random_token_mask`): every
// sample draws its own random permutation of its N token positions from the seeded Rng; the first
// K = N - M positions are kept (visible), the other M are masked. Indices are computed in JS, so a
// seed gives the same mask on every backend. Also holds the builder of a TokenMask from index sets,
// shared with the block mask.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';

/**
 * A token mask for a batch of B samples with N tokens each. Every tensor is new and owned by the
 * caller, who disposes it (`tf.dispose(mask)` disposes all four).
 */
export type TokenMask = {
  /** [B, K] int32: kept (visible) positions, ascending within each sample. */
  keep: tf.Tensor2D;
  /** [B, M] int32: masked positions, ascending within each sample. */
  masked: tf.Tensor2D;
  /**
   * [B, N] int32: for token n, its index in concat(keep, masked) along the token axis, so gathering
   * tokens laid out as concat(kept, masked) by `restore` puts them back in token order (restoreTokens).
   */
  restore: tf.Tensor2D;
  /** [B, N] float32: 1 where masked, 0 where kept. */
  mask: tf.Tensor2D;
};

/** How much to mask: a ratio in [0, 1], or an exact count. */
export type MaskAmount = number | { numMasked: number };

/** Number of masked tokens. A ratio is rounded as MAE does: keep = floor(N * (1 - ratio)). */
export function maskedCount(numTokens: number, amount: MaskAmount): number {
  if (typeof amount === 'number') {
    if (!(amount >= 0 && amount <= 1)) throw new Error(`maskRatio must be in [0, 1], got ${amount}`);
    return numTokens - Math.floor(numTokens * (1 - amount));
  }
  const m = amount.numMasked;
  if (!Number.isInteger(m) || m < 0 || m > numTokens) {
    throw new Error(`numMasked must be an integer in [0, numTokens = ${numTokens}], got ${m}`);
  }
  return m;
}

export function checkBatch(batchSize: number, numTokens: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be an integer >= 1, got ${batchSize}`);
  if (!Number.isInteger(numTokens) || numTokens < 1) throw new Error(`numTokens must be an integer >= 1, got ${numTokens}`);
}

/**
 * Builds a TokenMask from per-sample index sets given row-major ([B, K] and [B, M] flattened). Each
 * sample's keep and masked rows must partition 0..N-1. Rows are sorted ascending; inputs are not modified.
 */
export function tokenMaskFromIndices(batchSize: number, numTokens: number, keep: Int32Array, masked: Int32Array): TokenMask {
  checkBatch(batchSize, numTokens);
  const k = keep.length / batchSize;
  const m = masked.length / batchSize;
  if (!Number.isInteger(k) || !Number.isInteger(m) || k + m !== numTokens) {
    throw new Error(
      `tokenMaskFromIndices: ${keep.length} kept + ${masked.length} masked indices do not split ${batchSize} x ${numTokens} tokens`,
    );
  }
  const keepSorted = keep.slice();
  const maskedSorted = masked.slice();
  const restore = new Int32Array(batchSize * numTokens).fill(-1);
  const mask = new Float32Array(batchSize * numTokens);
  for (let b = 0; b < batchSize; b++) {
    const kr = keepSorted.subarray(b * k, (b + 1) * k).sort();
    const mr = maskedSorted.subarray(b * m, (b + 1) * m).sort();
    const row = b * numTokens;
    const place = (pos: number, j: number) => {
      if (!(pos >= 0 && pos < numTokens) || restore[row + pos] !== -1) {
        throw new Error(`tokenMaskFromIndices: sample ${b}: position ${pos} is out of range or repeated`);
      }
      restore[row + pos] = j;
    };
    kr.forEach((pos, j) => place(pos, j));
    mr.forEach((pos, j) => {
      place(pos, k + j);
      mask[row + pos] = 1;
    });
  }
  return {
    keep: tf.tensor2d(keepSorted, [batchSize, k], 'int32'),
    masked: tf.tensor2d(maskedSorted, [batchSize, m], 'int32'),
    restore: tf.tensor2d(restore, [batchSize, numTokens], 'int32'),
    mask: tf.tensor2d(mask, [batchSize, numTokens], 'float32'),
  };
}

/**
 * Random masking of `numTokens` positions for each of `batchSize` samples, one Rng permutation per
 * sample (drawn in sample order). `amount` is a mask ratio (MAE rounding, see maskedCount) or
 * `{ numMasked }`. Returns new tensors the caller disposes.
 */
export function randomTokenMask(rng: Rng, batchSize: number, numTokens: number, amount: MaskAmount): TokenMask {
  checkBatch(batchSize, numTokens);
  const m = maskedCount(numTokens, amount);
  const k = numTokens - m;
  const keep = new Int32Array(batchSize * k);
  const masked = new Int32Array(batchSize * m);
  for (let b = 0; b < batchSize; b++) {
    const perm = rng.permutation(numTokens);
    keep.set(perm.subarray(0, k), b * k);
    masked.set(perm.subarray(k), b * m);
  }
  return tokenMaskFromIndices(batchSize, numTokens, keep, masked);
}
