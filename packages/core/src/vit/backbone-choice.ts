// How a method's config names its encoder: a core ViT preset (`backbone`) plus a few overridden shape
// fields (`backboneOverrides`); image size and channels always come from the training data. The shared
// zod pieces, and the check that reports the encoder's own rules under `backboneOverrides.<field>`.
import { z } from 'zod';
import { VitConfig, vitPresets, type VitPresetName } from './config.js';

/** The preset names, as a zod enum source. */
export const vitPresetNames = Object.keys(vitPresets) as [VitPresetName, ...VitPresetName[]];

/** The shape fields a method may override on its preset. */
export const VitBackboneOverrides = z
  .object({ patchSize: z.number(), embedDim: z.number(), depth: z.number(), numHeads: z.number(), mlpRatio: z.number() })
  .partial()
  .strict();
export type VitBackboneOverrides = z.infer<typeof VitBackboneOverrides>;

/**
 * The two config fields every method names its encoder with, defaulting to `preset`: spread them into
 * the method's z.object and call checkBackboneOverrides in its superRefine; create() turns them into
 * a ViT config for the training images with vitConfigForImages.
 *
 * @example z.object({ ...backboneFields('vit-base/16'), maskRatio: z.number() })
 */
export function backboneFields(preset: VitPresetName) {
  return {
    /** Encoder preset; its image size and channels are replaced by the data's. */
    backbone: z.enum(vitPresetNames).default(preset),
    /** Shape fields overridden on the preset (patchSize, embedDim, depth, numHeads, mlpRatio). */
    backboneOverrides: VitBackboneOverrides.default({}),
  };
}

/**
 * For a config's superRefine: adds an issue at `backboneOverrides.<field>` for every rule of the
 * encoder's ViT config that the preset with these overrides breaks (the image size is the data's, so
 * it stands in as one patch until create()).
 */
export function checkBackboneOverrides(backbone: VitPresetName, overrides: VitBackboneOverrides, ctx: z.RefinementCtx): void {
  const preset = vitPresets[backbone];
  const enc = VitConfig.safeParse({ ...preset, ...overrides, imageSize: overrides.patchSize ?? preset.patchSize });
  for (const issue of enc.success ? [] : enc.error.issues.filter((i) => i.path[0] !== 'imageSize')) {
    ctx.addIssue({ code: 'custom', path: ['backboneOverrides', ...issue.path.map(String)], message: issue.message });
  }
}
