// MOCA's two complementary masking rounds for a batch of images (both views stacked): per image one
// random permutation of the L positions split into V1 | M | V2 | unused (core's
// complementaryTokenMask), so the two visible sets are disjoint and both rounds' decoders fill the
// SAME masked set M with mask tokens. Round r's encoder sees V_r only; its decoder scores V_r then M.
// stackRounds puts both rounds in one batch (the shorter visible set padded, with flags saying which
// entries are padding), so the student encoder and the decoder each run once per step, not twice.
import * as tf from '@tensorflow/tfjs-core';
import { complementaryTokenMask, type Rng } from '@maskedssl/core';
import type { MaskCounts } from './config.js';

export type MaskingRounds = {
  /** [B, |V1|], [B, |V2|] int32: what each round's encoder sees. */
  visible: [tf.Tensor2D, tf.Tensor2D];
  /** [B, |M|] int32: the masked positions shared by both rounds. */
  masked: tf.Tensor2D;
  /** [B, |V_r| + |M|] int32: the positions each round's decoder scores, in its output order. */
  scored: [tf.Tensor2D, tf.Tensor2D];
};

/** Draws the rounds for `batch` images of `numTokens` positions (new tensors the caller disposes). */
export function maskingRounds(rng: Rng, batch: number, numTokens: number, sizes: MaskCounts): MaskingRounds {
  const m = complementaryTokenMask(rng, batch, numTokens, { numVisible1: sizes.visible1, numVisible2: sizes.visible2, numMasked: sizes.masked });
  const scored = m.visible.map((v) => tf.concat([v, m.masked], 1)) as [tf.Tensor2D, tf.Tensor2D];
  return { visible: m.visible, masked: m.masked, scored };
}

/** Both rounds as one batch of 2 * batch rows (round 1's, then round 2's), for one encoder and one decoder pass. */
export type StackedRounds = {
  /** [2B, V] int32, V = max(|V1|, |V2|): each round's visible set, the shorter padded with position 0. */
  visible: tf.Tensor2D;
  /** [2B, V] float: 1 for a real visible position, 0 for padding. */
  valid: tf.Tensor2D;
  /** [2B, |M|] int32: M, once per round. */
  masked: tf.Tensor2D;
  /** [2B, V + |M|] int32: the positions the decoder scores (visible, padding included, then M). */
  scored: tf.Tensor2D;
  /**
   * [2B, V + |M|] float: the token loss's row weights, 1 / (B * (|V_r| + |M|)) for a real row of round
   * r and 0 for padding, so that the weighted sum of the per-row KLs is the sum over rounds of each
   * round's mean (the reference's mean over rounds times 2).
   */
  tokenWeights: tf.Tensor2D;
};

/** Pads and stacks the two rounds of `batch` images (new tensors the caller disposes). */
export function stackRounds(rounds: MaskingRounds): StackedRounds {
  const b = rounds.masked.shape[0];
  const m = rounds.masked.shape[1];
  const sizes = rounds.visible.map((v) => v.shape[1]) as [number, number];
  const width = Math.max(...sizes);
  const valid = new Float32Array(2 * b * width);
  const tokenWeights = new Float32Array(2 * b * (width + m));
  for (let r = 0; r < 2; r++) {
    const weight = 1 / (b * (sizes[r]! + m));
    for (let i = r * b; i < (r + 1) * b; i++) {
      valid.fill(1, i * width, i * width + sizes[r]!);
      const row = i * (width + m);
      tokenWeights.fill(weight, row, row + sizes[r]!);
      tokenWeights.fill(weight, row + width, row + width + m);
    }
  }
  return tf.tidy(() => {
    const padded = rounds.visible.map((v, r) => (sizes[r] === width ? v : tf.concat([v, tf.zeros([b, width - sizes[r]!], 'int32')], 1)));
    const visible = tf.concat(padded, 0) as tf.Tensor2D;
    const masked = tf.concat([rounds.masked, rounds.masked], 0) as tf.Tensor2D;
    return {
      visible,
      valid: tf.tensor2d(valid, [2 * b, width]),
      masked,
      scored: tf.concat([visible, masked], 1) as tf.Tensor2D,
      tokenWeights: tf.tensor2d(tokenWeights, [2 * b, width + m]),
    };
  });
}
