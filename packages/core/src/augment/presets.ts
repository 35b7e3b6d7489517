// Ready-made pipelines. asymmetricPair is MOCA's (valeoai/MOCA util/transforms.py, BYOL's recipe):
// crop (scale 0.2-1), colour jitter (0.4, 0.4, 0.2, 0.1) with p 0.8, grayscale p 0.2, blur
// (sigma 0.1-2) with p 1.0 in view 1 and 0.1 in view 2, solarisation p 0.2 in view 2 only, flip
// p 0.5. MOCA blurs with PIL's radius-sigma filter; here it is blur.ts's Gaussian kernel. For
// 1-channel images the RGB-only parts (saturation, hue, grayscale) are left out. simpleCropFlip is
// MAE's: crop (scale 0.2-1) and flip. Normalisation is appended only when asked for (e.g.
// IMAGENET_NORMALIZE); otherwise the views stay in [0, 1].
import type { AugmentPipeline, AugmentStepInput } from './pipeline.js';
import { parsePipeline } from './pipeline.js';
import type { NormalizeOptions } from './normalize.js';

export interface PresetOptions {
  /** Image channels (1 or 3). */
  channels: number;
  /** Output size of the crop (default: the input size). */
  size?: number | [number, number];
  /** Crop area fraction range (default [0.2, 1]). */
  scale?: [number, number];
  /** Blur kernel side (odd; default: 10% of the smaller image side, see defaultBlurKernelSize). */
  blurKernelSize?: number;
  /** Appended as the last step of both views when given. */
  normalize?: NormalizeOptions;
}

/** MOCA's asymmetric pair of pipelines (see the file header), validated for `channels`. */
export function asymmetricPair(options: PresetOptions): { view1: AugmentPipeline; view2: AugmentPipeline } {
  const { channels, size, scale = [0.2, 1], blurKernelSize, normalize } = options;
  const rgb = channels === 3;
  const view = (blurP: number, solarizeP: number): AugmentStepInput[] => [
    { type: 'randomResizedCrop', ...(size !== undefined && { size }), scale },
    { type: 'colorJitter', p: 0.8, brightness: 0.4, contrast: 0.4, saturation: rgb ? 0.2 : 0, hue: rgb ? 0.1 : 0 },
    ...(rgb ? [{ type: 'grayscale', p: 0.2 } as const] : []),
    { type: 'gaussianBlur', p: blurP, sigma: [0.1, 2], ...(blurKernelSize !== undefined && { kernelSize: blurKernelSize }) },
    ...(solarizeP > 0 ? [{ type: 'solarize', p: solarizeP, threshold: 0.5 } as const] : []),
    { type: 'horizontalFlip', p: 0.5 },
    ...(normalize ? [{ type: 'normalize', ...normalize } as const] : []),
  ];
  return { view1: parsePipeline(view(1, 0), channels), view2: parsePipeline(view(0.1, 0.2), channels) };
}

/** MAE's crop-and-flip pipeline (any channel count; `channels` checks `normalize` when given). */
export function simpleCropFlip(options: Partial<PresetOptions> = {}): AugmentPipeline {
  const { channels, size, scale = [0.2, 1], normalize } = options;
  const steps: AugmentStepInput[] = [
    { type: 'randomResizedCrop', ...(size !== undefined && { size }), scale },
    { type: 'horizontalFlip', p: 0.5 },
    ...(normalize ? [{ type: 'normalize', ...normalize } as const] : []),
  ];
  return parsePipeline(steps, channels);
}
