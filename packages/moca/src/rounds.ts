// MOCA's two complementary masking rounds for a batch of images (both views stacked): per image one
// random permutation of the L positions split into V1 | M | V2 | unused (core's
// complementaryTokenMask), so the two visible sets are disjoint and both rounds' decoders fill the
// SAME masked set M with mask tokens. Round r's encoder sees V_r only; its decoder scores V_r then M.
// Both rounds of an image share one row (core vitForward `segments`, decoderForward's rounds), so
// the student encoder and the decoder each run once per step, with no padding: the encoder row is
// [cls, V1, cls, V2], the decoder's [embedding 1, V1, M, embedding 2, V2, M].
import * as tf from '@tensorflow/tfjs-core';
import { complementaryTokenMask, type Rng } from '@maskedssl/core';
import type { MaskCounts } from './config.js';

export type MaskingRounds = {
  /** [B, |V1|], [B, |V2|] int32: what each round's encoder sees. */
  visible: [tf.Tensor2D, tf.Tensor2D];
  /** [B, |M|] int32: the masked positions shared by both rounds. */
  masked: tf.Tensor2D;
  /** [B, |V1| + |V2|] int32: both visible sets in one row, for vitForward with `segments`. */
  keep: tf.Tensor2D;
  /** The encoder segments of `keep`, [|V1|, |V2|]. */
  segments: [number, number];
  /** [B, |V1| + |M| + |V2| + |M|] int32: the positions the decoder scores, in its output order. */
  scored: tf.Tensor2D;
  /**
   * [B, |V1| + |M| + |V2| + |M|] float: the token loss's weights, 1 / (B * (|V_r| + |M|)) on round r's
   * positions, so that the weighted sum of the per-position KLs is the sum over rounds of each
   * round's mean (the reference's mean over rounds times 2).
   */
  tokenWeights: tf.Tensor2D;
};

/** Draws the rounds for `batch` images of `numTokens` positions (new tensors the caller disposes). */
export function maskingRounds(rng: Rng, batch: number, numTokens: number, sizes: MaskCounts): MaskingRounds {
  const m = complementaryTokenMask(rng, batch, numTokens, { numVisible1: sizes.visible1, numVisible2: sizes.visible2, numMasked: sizes.masked });
  const rowWeights = [sizes.visible1, sizes.visible2].flatMap((v) => Array<number>(v + sizes.masked).fill(1 / (batch * (v + sizes.masked))));
  const [v1, v2] = m.visible;
  return {
    visible: m.visible,
    masked: m.masked,
    keep: tf.concat([v1, v2], 1),
    segments: [sizes.visible1, sizes.visible2],
    scored: tf.concat([v1, m.masked, v2, m.masked], 1),
    tokenWeights: tf.tile(tf.tensor2d(rowWeights, [1, rowWeights.length]), [batch, 1]),
  };
}
