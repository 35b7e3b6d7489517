// @maskedssl/core: everything method-independent — backend selection, the ViT on tfjs ops, masking,
// the EMA teacher, AdamW and schedules, safetensors and timm I/O, datasets, augmentations, the
// evaluation harness, and the training loop with its objective interface, registry and checkpoints.
// This entry runs in Node and in browsers (it imports no Node built-in); files, folders and the
// native set-up are in '@maskedssl/core/node' (src/node.ts), which re-exports this one.
/** @module @maskedssl/core */
export * from './backend/init-backend.js';
export { assertWebGpuHealthy, formatAdapter, type GpuAdapterReport } from './backend/webgpu.js';
export * from './util/rng.js';
export * from './util/config.js';
export { concatFloat32 } from './util/concat.js';
export * from './nn/params.js';
export { linear } from './nn/linear.js';
export { layerNorm } from './nn/layer-norm.js';
export { gelu } from './nn/gelu.js';
export { stopGradient } from './nn/stop-gradient.js';
export { repeatToken } from './nn/repeat-token.js';
export { noGrad } from './nn/no-grad.js';
export { l2Normalize } from './nn/l2-normalize.js';
export { batchNorm, BATCH_NORM_EPS } from './nn/batch-norm.js';
export { ringWrite } from './nn/ring-buffer.js';
export * from './nn/mlp-head.js';
export * from './losses/index.js';
export { segmentBias, selfAttention } from './nn/attention.js';
export { mlp, transformerBlock, blockParamShapes } from './nn/block.js';
export * from './vit/config.js';
export * from './vit/backbone-choice.js';
export * from './vit/patchify.js';
export * from './vit/pos-embed.js';
export * from './vit/vit.js';
export * from './masking/index.js';
export * from './teacher/index.js';
export * from './optim/index.js';
export * from './optim/value-and-grads.js';
export * from './io/index.js';
export * from './data/index.js';
export * from './augment/index.js';
export * from './eval/index.js';
export * from './train/objective.js';
export * from './train/registry.js';
export * from './train/momentum.js';
export * from './train/budget.js';
export * from './train/checkpoint-format.js';
export * from './train/checkpoint-reader.js';
export * from './train/progress.js';
export * from './train/trainer.js';
export * from './train/restore.js';
