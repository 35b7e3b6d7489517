// MOCA's configuration: a zod schema whose defaults are the reference's (valeoai/MOCA main_pretrain.py
// and models_moca.py) wherever they transfer to a small backbone, the `fashion-mnist` preset, and the
// values derived from a config (the two masking rounds' sizes). Names are camelCase; the reference's
// are given in the comments. Every impossible combination is refused with an issue whose path names
// the field: by superRefine, or at create() for the rules that need the token grid (the image size is
// the data's, see checkGeometry).
import {
  backboneFields, checkBackboneOverrides, checkMomentum, gridSize, momentumFields, numPatches, parseOrThrow, vitPresets, type VitConfig,
} from '@maskedssl/core';
import { z } from 'zod';

const ratio = z.number().min(0).lt(1);

/** Sizes of the per-image position sets of the two complementary masking rounds (counts, not ratios). */
export const MaskCounts = z
  .object({
    /** |V1|: positions the student encoder sees in round 1. */
    visible1: z.number().int().positive(),
    /** |M|: positions both rounds' decoders fill with mask tokens (shared exactly). */
    masked: z.number().int().positive(),
    /** |V2|: positions the student encoder sees in round 2 (disjoint from V1 and M). */
    visible2: z.number().int().positive(),
  })
  .strict();
export type MaskCounts = z.infer<typeof MaskCounts>;

export const MocaConfig = z
  .object({
    /** The student's and teacher's encoder: a core ViT preset with overridden shape fields (image size and channels are the data's). */
    ...backboneFields('vit-tiny/4'),
    /** K, the codebook (queue) size (`num_words`). A multiple of numNewWords. */
    numWords: z.number().int().positive().default(4096),
    /** Teacher tokens enqueued per step, one per distinct image (`num_new_words`); <= the batch size. */
    numNewWords: z.number().int().positive().default(32),
    /** Border width excluded from the bag of words and from new words (`skip_offset`); >= 1. */
    skipOffset: z.number().int().nonnegative().default(2),
    /** Soft-assignment inverse temperature, divided by the running dist_norm (`inv_delta`). */
    invDelta: z.number().positive().default(10),
    /**
     * EMA decay of the running dist_norm, applied once per teacher view (the reference's 0.99). From
     * its start at 0.5 it needs a few hundred steps to reach the statistic of a codebook of teacher
     * tokens: nothing in a 200-epoch run, most of a minutes-long one.
     */
    distNormDecay: z.number().min(0).lt(1).default(0.99),
    /** Fixed scale of the prediction logits (`kappa`). */
    kappa: z.number().positive().default(3),
    /** Encoder mask ratios of the two rounds (`mask_ratio`). */
    maskRatios: z.tuple([ratio, ratio]).default([0.55, 0.75]),
    /** Decoder mask ratios of the two rounds (`dec_mask_ratio`); round 1's sets |M|. */
    decoderMaskRatios: z.tuple([ratio, ratio]).default([0.35, 0.55]),
    /** Exact set sizes; when given they replace the ratios (see maskSizes). */
    maskCounts: MaskCounts.optional(),
    /** The decoder reads the block `earlyLayer` blocks before the last (`early_layer`); 0: the last. */
    earlyLayer: z.number().int().nonnegative().default(4),
    /** Token-level decoder: blocks (reference default 2), width and heads. */
    decoderDepth: z.number().int().positive().default(2),
    decoderEmbedDim: z.number().int().positive().default(128),
    decoderNumHeads: z.number().int().positive().default(4),
    /** Hidden width of both prototype generators, as a multiple of the encoder width (`pred_mlp_ratio`). */
    predMlpRatio: z.number().positive().default(2),
    /** EMA teacher momentum, per-iteration cosine from momentum to momentumEnd (the reference's `alpha`, `alpha_max`). */
    ...momentumFields(0.994, 1),
    /** Constant learning rate and weight decay of the prototype generators (`lr_wgen`, `weight_decay`). */
    lrWgen: z.number().positive().default(1e-4),
    weightDecayWgen: z.number().nonnegative().default(0.05),
    /** Loss weights (`img_weight`, `loc_weight`). */
    imageWeight: z.number().nonnegative().default(0.5),
    tokenWeight: z.number().nonnegative().default(0.5),
    /** A warning is printed (once) when the codebook-usage perplexity falls below this. */
    collapsePerplexity: z.number().min(1).default(2),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
    checkMomentum(c, ctx);
    const depth = c.backboneOverrides.depth ?? vitPresets[c.backbone].depth;
    const embedDim = c.backboneOverrides.embedDim ?? vitPresets[c.backbone].embedDim;
    if (c.numWords % c.numNewWords !== 0) {
      issue(['numWords'], `numWords ${c.numWords} is not a multiple of numNewWords ${c.numNewWords} (the queue is written in whole chunks)`);
    }
    if (c.skipOffset < 1) issue(['skipOffset'], 'skipOffset must be >= 1 (0 leaves no interior in the reference: it crops [0:-0])');
    if (c.earlyLayer >= depth) issue(['earlyLayer'], `earlyLayer ${c.earlyLayer} must be < the backbone depth ${depth}`);
    if (c.decoderEmbedDim % c.decoderNumHeads !== 0) {
      issue(['decoderNumHeads'], `decoderEmbedDim ${c.decoderEmbedDim} is not divisible by decoderNumHeads ${c.decoderNumHeads}`);
    }
    if (c.decoderEmbedDim % 4 !== 0) {
      issue(['decoderEmbedDim'], `decoderEmbedDim ${c.decoderEmbedDim} must be divisible by 4 (2-D sin-cos position embedding)`);
    }
    if (!Number.isInteger(embedDim * c.predMlpRatio)) issue(['predMlpRatio'], 'embedDim * predMlpRatio must be an integer');
    for (const r of [0, 1]) {
      if (!(c.decoderMaskRatios[r]! < c.maskRatios[r]!)) {
        issue(['decoderMaskRatios', r], `decoderMaskRatios[${r}] ${c.decoderMaskRatios[r]} must be below maskRatios[${r}] ${c.maskRatios[r]} (the decoder also scores masked positions)`);
      }
    }
  });
export type MocaConfig = z.output<typeof MocaConfig>;
export type MocaConfigInput = z.input<typeof MocaConfig>;

function fmt(s: MaskCounts): string {
  return `${s.visible1} + ${s.visible2} + ${s.masked} = ${s.visible1 + s.visible2 + s.masked}`;
}

/** Validates a MOCA config (defaults filled); the one-line error names every bad field. */
export function parseMocaConfig(input: unknown): MocaConfig {
  return parseOrThrow(MocaConfig, input, 'moca config');
}

/**
 * The rules that need the token grid, for create() once the data fixes the image size: an interior
 * left by skipOffset, and masking rounds that fit the tokens. Throws one line naming every field.
 */
export function checkGeometry(c: MocaConfig, vit: VitConfig): void {
  const problems: string[] = [];
  const grid = gridSize(vit);
  const n = numPatches(vit);
  if (grid - 2 * c.skipOffset < 1) problems.push(`skipOffset: skipOffset ${c.skipOffset} leaves no interior token on the ${grid}x${grid} grid of the backbone (needs grid - 2*skipOffset >= 1)`);
  const s = maskSizes(c, n);
  const field = c.maskCounts ? 'maskCounts' : 'maskRatios';
  if (s.visible1 < 1 || s.visible2 < 1 || s.masked < 1) problems.push(`${field}: the masking rounds need visible1, visible2 and masked >= 1, got ${fmt(s)} at ${n} tokens`);
  if (s.visible1 + s.visible2 + s.masked > n) problems.push(`${field}: visible1 + visible2 + masked = ${fmt(s)} exceeds the ${n} tokens of the backbone`);
  if (problems.length > 0) throw new Error(`moca: ${problems.join('; ')}`);
}

/**
 * The masking rounds' set sizes. Explicit `maskCounts` win; otherwise they come from the ratios as
 * the reference's make_two_complementary_masks computes them: |V1| = int(L(1 - r1)),
 * |M| = int(L(1 - d1)) - |V1| (round 1's decoder positions minus its visible ones),
 * |V2| = int(L(1 - r2)). Round 2 reuses M exactly; its decoder ratio d2 only has to stay below r2
 * (at L = 196 int(L(1 - d2)) - |V2| equals |M|; at L = 49 the reference's round 2 would score one
 * extra unused position, which we do not: the masked set is shared exactly).
 * At L = 49 with the default ratios: 22, 9, 12.
 */
export function maskSizes(c: Pick<MocaConfig, 'maskCounts' | 'maskRatios' | 'decoderMaskRatios'>, numTokens: number): MaskCounts {
  if (c.maskCounts) return { ...c.maskCounts };
  // The same float64 arithmetic as Python's int(L * (1 - r)).
  const keep = (r: number) => Math.floor(numTokens * (1 - r));
  const visible1 = keep(c.maskRatios[0]);
  return { visible1, masked: keep(c.decoderMaskRatios[0]) - visible1, visible2: keep(c.maskRatios[1]) };
}

/**
 * Named partial configs. `fashion-mnist` (28x28x1) is tuned for the best k-NN per minute of a 2-core
 * CPU (package README, "Tuning"): `vit-micro/4` (7x7 = 49 tokens, width 64, 2 heads
 * of 32, depth 4: ~3x the steps per minute of vit-mini/4 at batch 32 and ~6x its images per second
 * at batch 64, which in 20 minutes gave better k-NN and low-shot figures than vit-mini/4);
 * K = 256 = 8 x 32 new words (the queue is renewed every 8 steps;
 * batches of >= 32 images); skipOffset 1 (a 5x5 interior; 2 would leave 3x3); earlyLayer 2, i.e.
 * block 1 of 0..3; the reference's ratios at L = 49 give the counts 22 / 9 / 12 (43 of 49 tokens
 * used); a 2-block decoder of the encoder's width with heads of width 32 (as the reference's 512 / 16).
 * Three reference values assume a 200-epoch run and are shortened for a run of a few hundred steps:
 *   - distNormDecay 0.9 (reference 0.99): dist_norm follows the statistic of the codebook within a
 *     few steps instead of ~300 (from 0.5 the reference's EMA reaches the ~0.02-0.1 of teacher
 *     tokens only after most of a 20-minute run, so the targets stay far softer than meant);
 *   - momentum 0.98 (reference alpha 0.994): a teacher time constant of ~50 steps, not ~170;
 *   - lrWgen 1e-3 (reference 1e-4): in the reference the generators train at 1e-4 through a
 *     30-epoch warmup in which the encoder's lr is far below theirs; with a warmup of tens of steps
 *     the encoder outpaces them, and its token features drift into a narrow cone (the dist_norm
 *     statistic falls from ~0.3 to ~0.01 in 100 steps) unless the generators keep up.
 */
export const mocaPresets: Record<string, MocaConfigInput> = {
  'fashion-mnist': {
    backbone: 'vit-micro/4',
    numWords: 256,
    numNewWords: 32,
    skipOffset: 1,
    earlyLayer: 2,
    maskCounts: { visible1: 22, masked: 9, visible2: 12 },
    decoderDepth: 2,
    decoderEmbedDim: 64,
    decoderNumHeads: 2,
    distNormDecay: 0.9,
    momentum: 0.98,
    lrWgen: 1e-3,
  },
};
