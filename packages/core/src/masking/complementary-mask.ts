// Two complementary masking rounds, as MOCA uses them: per sample one shared set M of masked
// (to-be-predicted) positions and two disjoint visible sets V1, V2, also disjoint from M.
//
// How this maps to the reference (valeoai/MOCA `util/misc.py` make_two_complementary_masks):
// each image draws one random permutation of its L positions, split as
// [V1 | M | V2 | unused] with |V1| = int(L*(1-0.55)), |V1| + |M| = int(L*(1-0.35)) (round 1's
// decoder positions) and |V2| = int(L*(1-0.75)); it asserts that V2 fits in what round 1 leaves, i.e.
// |V1| + |M| + |V2| <= L. Round 2's decoder then takes the first int(L*(1-0.55)) positions of
// [V2 | M | unused | V1]; that is exactly V2 + M at L = 196 (88, 39, 49; 20 unused), but at L = 49
// (22, 9, 12) it is V2 + M (21) plus one unused position, so the rounds' predicted sets differ
// there. Here the permutation is split the same way, from the Rng, but the three sizes are given
// as counts and M is shared exactly by construction; the union need not cover all tokens. Turning
// ratios into counts is the caller's (the config's) business: |V1| = floor(L*(1-r1)),
// |M| = floor(L*(1-d1)) - |V1|, |V2| = floor(L*(1-r2)) reproduces the reference's round 1 and its
// round 2 visible set.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';
import { checkBatch } from './random-mask.js';

/** Sizes of the three per-sample position sets. */
export interface ComplementarySizes {
  /** |V1|: visible positions of round 1 (>= 1). */
  numVisible1: number;
  /** |V2|: visible positions of round 2 (>= 1). */
  numVisible2: number;
  /** |M|: masked positions shared by both rounds (>= 0). */
  numMasked: number;
}

/**
 * Index sets of two complementary rounds. All int32, ascending within each sample; new tensors the
 * caller disposes (`tf.dispose(result)`).
 */
export type ComplementaryMask = {
  /** [B, |V1|] and [B, |V2|]: the visible positions of round 1 and round 2. */
  visible: [tf.Tensor2D, tf.Tensor2D];
  /** Shape [B, |M|]: the masked positions, the same for both rounds. */
  masked: tf.Tensor2D;
};

/** Throws, naming the fields, unless the sizes are valid for `numTokens` positions. */
export function checkComplementarySizes(numTokens: number, sizes: ComplementarySizes): void {
  const { numVisible1, numVisible2, numMasked } = sizes;
  for (const [name, v, min] of [
    ['numVisible1', numVisible1, 1],
    ['numVisible2', numVisible2, 1],
    ['numMasked', numMasked, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`complementary mask: ${name} must be an integer >= ${min}, got ${v}`);
  }
  const total = numVisible1 + numVisible2 + numMasked;
  if (total > numTokens) {
    throw new Error(
      `complementary mask: numVisible1 + numVisible2 + numMasked = ${numVisible1} + ${numVisible2} + ${numMasked} = ${total} ` +
        `exceeds numTokens = ${numTokens}`,
    );
  }
}

/**
 * Draws, for each of `batchSize` samples (in order), one Rng permutation of `numTokens` positions and
 * splits it into V1, M, V2 (the rest is unused). Returns new tensors the caller disposes.
 */
export function complementaryTokenMask(rng: Rng, batchSize: number, numTokens: number, sizes: ComplementarySizes): ComplementaryMask {
  checkBatch(batchSize, numTokens);
  checkComplementarySizes(numTokens, sizes);
  const { numVisible1: v1, numVisible2: v2, numMasked: m } = sizes;
  const vis1 = new Int32Array(batchSize * v1);
  const vis2 = new Int32Array(batchSize * v2);
  const masked = new Int32Array(batchSize * m);
  for (let b = 0; b < batchSize; b++) {
    const perm = rng.permutation(numTokens);
    vis1.set(perm.subarray(0, v1).sort(), b * v1);
    masked.set(perm.subarray(v1, v1 + m).sort(), b * m);
    vis2.set(perm.subarray(v1 + m, v1 + m + v2).sort(), b * v2);
  }
  return {
    visible: [tf.tensor2d(vis1, [batchSize, v1], 'int32'), tf.tensor2d(vis2, [batchSize, v2], 'int32')],
    masked: tf.tensor2d(masked, [batchSize, m], 'int32'),
  };
}
