// MOCA's two complementary masking rounds for a batch of images (both views stacked): per image one
// random permutation of the L positions split into V1 | M | V2 | unused (core's
// complementaryTokenMask), so the two visible sets are disjoint and both rounds' decoders fill the
// SAME masked set M with mask tokens. Round r's encoder sees V_r only; its decoder scores V_r then M.
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
