// ViT shape configuration (validated with zod) and named presets.
import { z } from 'zod';
import { parseOrThrow } from '../util/config.js';

export const VitConfig = z
  .object({
    imageSize: z.number().int().positive(),
    patchSize: z.number().int().positive(),
    inChannels: z.number().int().positive().default(3),
    embedDim: z.number().int().positive(),
    depth: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    mlpRatio: z.number().positive().default(4),
    layerNormEps: z.number().positive().default(1e-6),
    classToken: z.boolean().default(true),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.imageSize % c.patchSize !== 0) {
      ctx.addIssue({ code: 'custom', path: ['patchSize'], message: `imageSize ${c.imageSize} is not divisible by patchSize ${c.patchSize}` });
    }
    if (c.embedDim % c.numHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numHeads'], message: `embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}` });
    }
    if (c.embedDim % 4 !== 0) {
      ctx.addIssue({ code: 'custom', path: ['embedDim'], message: `embedDim ${c.embedDim} must be divisible by 4 (2-D sin-cos position embedding)` });
    }
    if (!Number.isInteger(c.embedDim * c.mlpRatio)) {
      ctx.addIssue({ code: 'custom', path: ['mlpRatio'], message: `embedDim * mlpRatio must be an integer` });
    }
  });
export type VitConfig = z.infer<typeof VitConfig>;
export type VitConfigInput = z.input<typeof VitConfig>;

/**
 * Presets. `vit-tiny/4` is the small-image workhorse (28x28 or 32x32, 7x7 or 8x8 tokens): ViT-Tiny's
 * width (192, 3 heads) at depth 6, 2.7M parameters. `vit-mini/4` is its cheaper sibling for
 * minutes-long budgets on a CPU: width 128, 4 heads of 32, depth 4 (0.8M parameters, ~3.4x fewer
 * FLOPs per image). `vit-micro/4` halves the width again (64, 2 heads of 32, depth 4; 0.2M
 * parameters), for budgets of a few minutes on 2 cores. The /16 ones are the standard 224x224 shapes.
 */
export const vitPresets = {
  'vit-tiny/4': { imageSize: 28, patchSize: 4, inChannels: 1, embedDim: 192, depth: 6, numHeads: 3 },
  'vit-mini/4': { imageSize: 28, patchSize: 4, inChannels: 1, embedDim: 128, depth: 4, numHeads: 4 },
  'vit-micro/4': { imageSize: 28, patchSize: 4, inChannels: 1, embedDim: 64, depth: 4, numHeads: 2 },
  'vit-tiny/16': { imageSize: 224, patchSize: 16, inChannels: 3, embedDim: 192, depth: 12, numHeads: 3 },
  'vit-small/16': { imageSize: 224, patchSize: 16, inChannels: 3, embedDim: 384, depth: 12, numHeads: 6 },
  'vit-base/16': { imageSize: 224, patchSize: 16, inChannels: 3, embedDim: 768, depth: 12, numHeads: 12 },
} as const satisfies Record<string, VitConfigInput>;
export type VitPresetName = keyof typeof vitPresets;

/** A preset with overrides (e.g. `{imageSize: 32, inChannels: 3}`), validated. */
export function vitConfig(preset: VitPresetName, overrides: Partial<VitConfigInput> = {}): VitConfig {
  const base = vitPresets[preset];
  if (!base) throw new Error(`unknown ViT preset '${String(preset)}' (choose one of: ${Object.keys(vitPresets).join(', ')})`);
  return parseVitConfig({ ...base, ...overrides });
}

/**
 * A preset shaped to the training images ([H, W, C] from ObjectiveContext.imageShape): imageSize and
 * inChannels come from the images, other fields from `overrides`. `owner` names the caller in errors.
 */
export function vitConfigForImages(
  preset: VitPresetName,
  overrides: Partial<VitConfigInput>,
  imageShape: readonly [number, number, number],
  owner: string,
): VitConfig {
  const [h, w, ch] = imageShape;
  if (h !== w) throw new Error(`${owner}: images must be square, got ${h}x${w}`);
  return vitConfig(preset, { ...overrides, imageSize: h, inChannels: ch });
}

/** Validate a ViT config; the error names every bad field. */
export function parseVitConfig(input: unknown): VitConfig {
  return parseOrThrow(VitConfig, input, 'ViT config');
}

export function gridSize(c: VitConfig): number {
  return c.imageSize / c.patchSize;
}
export function numPatches(c: VitConfig): number {
  return gridSize(c) ** 2;
}
