// Batched, seeded image augmentations for [B, H, W, C] float32 tensors in [0, 1] (torchvision
// semantics), augmentation pipelines and their presets.
export {
  randomResizedCrop,
  resizedCrop,
  ResizedCropOptions,
  sampleResizedCropBox,
  type CropBox,
  type ResizedCropOptionsInput,
} from './resized-crop.js';
export { FlipOptions, horizontalFlip, randomHorizontalFlip } from './flip.js';
export { adjustBrightness } from './brightness.js';
export { adjustContrast } from './contrast.js';
export { adjustSaturation } from './saturation.js';
export { adjustHue, hsvToRgb, rgbToHsv } from './hue.js';
export { applyJitter, colorJitter, ColorJitterOptions, sampleJitterParams, type JitterParams } from './color-jitter.js';
export { grayscale, GrayscaleOptions, LUMA_WEIGHTS, randomGrayscale, rgbToGrayscale } from './grayscale.js';
export { BlurOptions, defaultBlurKernelSize, gaussianBlur, gaussianKernel1d, randomGaussianBlur } from './blur.js';
export { randomSolarize, solarize, SolarizeOptions } from './solarize.js';
export { IMAGENET_NORMALIZE, normalize, NormalizeOptions } from './normalize.js';
export {
  applyPipeline,
  AugmentStep,
  augmentView,
  parsePipeline,
  twoViews,
  type AugmentPipeline,
  type AugmentStepInput,
  type ViewGeometrySample,
} from './pipeline.js';
export { asymmetricPair, simpleCropFlip, type PresetOptions } from './presets.js';
