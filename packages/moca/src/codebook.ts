// The online codebook ("visual words") MOCA builds from its teacher, and what is computed with it:
//   - a ring-buffer queue of K L2-normalised words, initialised as l2norm(max(0, N(0, 1)));
//   - soft assignment of teacher patch tokens: d_k = -cos(t, w_k), codes = softmax(-(invDelta /
//     dist_norm_prev) * d), with dist_norm an EMA (0.99, from 0.5) of |mean over tokens of
//     (mean_k d - min_k d)|, updated once per teacher view, and dist_norm_prev its value at the end of
//     the previous step (so both views of a step use the same temperature); the decay is a
//     constructor option (a short run may want it faster);
//   - the bag of words: the mean code over the tokens at least skipOffset from the border,
//     L1-normalised;
//   - each step's new words: from one view, numNewWords distinct images, one random interior token
//     each, L2-normalised, written over the oldest entries.
// Pure functions first, then OnlineCodebook, which holds the state as frozen variables (words,
// dist_norm, dist_norm_prev) plus the ring pointer (JSON state).
import * as tf from '@tensorflow/tfjs-core';
import { l2Normalize, linear, makeVariable, noGrad, ringWrite, stopGradient, type Rng, type VariableTree } from '@maskedssl/core';

/** The reference's eps for L1/L2 normalisation: x / max(norm, eps). */
export const NORMALIZE_EPS = 1e-5;
export const DIST_NORM_INIT = 0.5;
export const DIST_NORM_DECAY = 0.99;

export function l1Normalize(x: tf.Tensor, axis = -1, eps = NORMALIZE_EPS): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.sum(tf.abs(x), axis, true), eps)));
}

/** [K * C] initial words, row-major: l2norm(max(0, N(0, 1))) per row. */
export function initialWords(rng: Rng, numWords: number, dim: number): Float32Array {
  const w = rng.normalArray(numWords * dim);
  for (let k = 0; k < numWords; k++) {
    const row = w.subarray(k * dim, (k + 1) * dim);
    let sq = 0;
    for (let i = 0; i < dim; i++) {
      row[i] = Math.max(0, row[i]!);
      sq += row[i]! * row[i]!;
    }
    const scale = 1 / Math.max(Math.sqrt(sq), NORMALIZE_EPS);
    for (let i = 0; i < dim; i++) row[i] = row[i]! * scale;
  }
  return w;
}

/** Row-major positions of a grid x grid patch grid at least `skipOffset` from the border. */
export function interiorPositions(grid: number, skipOffset: number): Int32Array {
  const side = grid - 2 * skipOffset;
  if (skipOffset < 1 || side < 1) throw new Error(`interiorPositions: skipOffset ${skipOffset} leaves no interior on a ${grid}x${grid} grid`);
  const out = new Int32Array(side * side);
  let n = 0;
  for (let i = skipOffset; i < grid - skipOffset; i++) for (let j = skipOffset; j < grid - skipOffset; j++) out[n++] = i * grid + j;
  return out;
}

export type Assignment = {
  /** [N, L, K] soft codes (rows sum to 1). */
  codes: tf.Tensor3D;
  /**
   * Shape [views]: per block of N / views images (the views stacked in order), |mean over its tokens of
   * (mean_k d - min_k d)|, the value dist_norm's EMA takes in once per view.
   */
  distStat: tf.Tensor1D;
};

/**
 * Soft assignment of patch tokens [N, L, C] (no class token; border included) to unit words [K, C]
 * with the temperature invDelta / distNormPrev ([] or [1]); computed in fp32. `views` equal blocks
 * of images get one dist_norm statistic each.
 */
export function assignWords(tokens: tf.Tensor3D, words: tf.Tensor2D, invDelta: number, distNormPrev: tf.Tensor, views = 1): Assignment {
  const [n, l, c] = tokens.shape;
  if (!Number.isInteger(views) || views < 1 || n % views !== 0) throw new Error(`assignWords: ${n} images do not split into ${views} views`);
  return tf.tidy(() => {
    const k = words.shape[0];
    const x = l2Normalize(tf.reshape(tokens, [n * l, c]), -1, NORMALIZE_EPS) as tf.Tensor2D;
    // cos(t, w_k) = -d_k, so mean_k d - min_k d = max_k cos - mean_k cos and -(scale) d = scale cos.
    const cos = linear(x, tf.transpose(words)) as tf.Tensor2D; // [N*L, K]
    const gap = tf.reshape(tf.sub(tf.max(cos, 1), tf.mean(cos, 1)), [views, -1]);
    const distStat = tf.abs(tf.mean(gap, 1)) as tf.Tensor1D;
    const scale = tf.div(tf.scalar(invDelta), tf.reshape(distNormPrev, []));
    const codes = tf.reshape(tf.softmax(tf.mul(cos, scale) as tf.Tensor2D, -1), [n, l, k]) as tf.Tensor3D;
    return { codes, distStat };
  });
}

/** Bag of words [N, K] from codes [N, L = grid^2, K]: interior mean, L1-normalised. */
export function bagOfWords(codes: tf.Tensor3D, grid: number, skipOffset: number): tf.Tensor2D {
  return tf.tidy(() => {
    const keep = tf.tensor1d(interiorPositions(grid, skipOffset), 'int32');
    return l1Normalize(tf.mean(tf.gather(codes, keep, 1), 1)) as tf.Tensor2D;
  });
}

/** exp(entropy) of the mean of codes [..., K] over all rows: 1 = one word takes everything, K = uniform use. */
export function codebookPerplexity(codes: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const k = codes.shape[codes.rank - 1]!;
    const p = tf.mean(tf.reshape(codes, [-1, k]), 0);
    return tf.exp(tf.neg(tf.sum(tf.mul(p, tf.log(tf.maximum(p, 1e-30)))))) as tf.Scalar;
  });
}

/**
 * Flat indices (b * L + t) of one step's new words: `numNew` distinct images of the `batch` (a random
 * permutation's head), then one uniformly random interior position for each.
 */
export function newWordIndices(rng: Rng, batch: number, numTokens: number, numNew: number, interior: Int32Array): Int32Array {
  if (numNew > batch) throw new Error(`newWordIndices: ${numNew} new words need as many distinct images, the batch has ${batch}`);
  const images = rng.permutation(batch).subarray(0, numNew);
  const out = new Int32Array(numNew);
  for (let i = 0; i < numNew; i++) out[i] = images[i]! * numTokens + interior[rng.int(interior.length)]!;
  return out;
}

/** The new words [numNew, C], L2-normalised, picked from patch tokens [N, L, C] by newWordIndices. */
export function gatherNewWords(tokens: tf.Tensor3D, flatIndices: Int32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const [n, l, c] = tokens.shape;
    const picked = tf.gather(tf.reshape(tokens, [n * l, c]), tf.tensor1d(flatIndices, 'int32'));
    return l2Normalize(picked, -1, NORMALIZE_EPS) as tf.Tensor2D;
  });
}

/** dist_norm after one EMA update per entry of `stats` (one per teacher view), in order. */
export function emaDistNorm(distNorm: tf.Tensor, stats: tf.Tensor1D, decay = DIST_NORM_DECAY): tf.Tensor {
  return tf.tidy(() => {
    let dn = distNorm;
    for (const s of tf.unstack(stats)) dn = tf.add(tf.mul(dn, decay), tf.mul(s, 1 - decay));
    return dn;
  });
}

/** The codebook's state: frozen variables (checkpointed by the trainer) and the ring pointer. */
export class OnlineCodebook {
  /** [K, C] unit words. */
  readonly words: tf.Variable;
  /** [1] running dist_norm (updated per teacher view). */
  readonly distNorm: tf.Variable;
  /** [1] the value the codes use: dist_norm at the end of the previous step. */
  readonly distNormPrev: tf.Variable;
  /** Index of the oldest words (the next to be overwritten). */
  pointer = 0;

  /**
   * `distNormDecay` is the EMA decay of dist_norm per teacher view (the reference's 0.99; a short run
   * may want a faster one, see the config's `distNormDecay`).
   */
  constructor(rng: Rng, readonly numWords: number, readonly dim: number, owner = 'moca', readonly distNormDecay = DIST_NORM_DECAY) {
    this.words = makeVariable(owner, 'codebook.words', [numWords, dim], initialWords(rng, numWords, dim), false);
    this.distNorm = makeVariable(owner, 'codebook.dist_norm', [1], new Float32Array([DIST_NORM_INIT]), false);
    this.distNormPrev = makeVariable(owner, 'codebook.dist_norm_prev', [1], new Float32Array([DIST_NORM_INIT]), false);
  }

  variables(): VariableTree {
    return { 'codebook.words': this.words, 'codebook.dist_norm': this.distNorm, 'codebook.dist_norm_prev': this.distNormPrev };
  }

  /** The words as a constant for this step (the pre-update copy: updates happen after the step). */
  dictionary(): tf.Tensor2D {
    return stopGradient(this.words as tf.Tensor2D);
  }

  /**
   * Codes of teacher patch tokens [N, L, C] (`views` stacked blocks) with the current words and
   * dist_norm_prev; targets only, computed off the gradient tape (no copies of tokens or words).
   */
  assign(tokens: tf.Tensor3D, invDelta: number, views = 1): Assignment {
    return noGrad(() => tf.tidy(() => assignWords(tokens, this.words as tf.Tensor2D, invDelta, this.distNormPrev, views)));
  }

  /**
   * The end of a step: enqueue `fresh` [n, C] (unit rows), take the step's per-view statistics into
   * dist_norm (in view order), then refresh dist_norm_prev.
   */
  update(fresh: tf.Tensor2D, stats: tf.Tensor1D): void {
    tf.tidy(() => {
      const next = ringWrite(this.words as tf.Tensor2D, fresh, this.pointer);
      this.words.assign(next.buffer);
      this.pointer = next.pointer;
      const dn = emaDistNorm(this.distNorm, stats, this.distNormDecay);
      this.distNorm.assign(dn);
      this.distNormPrev.assign(dn);
    });
  }

  getState(): { pointer: number } {
    return { pointer: this.pointer };
  }

  setState(state: { pointer: number }): void {
    const p = state.pointer;
    if (!Number.isInteger(p) || p < 0 || p >= this.numWords) throw new Error(`OnlineCodebook.setState: pointer ${p} is outside 0..${this.numWords - 1}`);
    this.pointer = p;
  }

  dispose(): void {
    tf.dispose([this.words, this.distNorm, this.distNormPrev]);
  }
}
