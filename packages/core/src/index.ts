// @maskedssl/core: everything method-independent — backend selection, the ViT on tfjs ops, masking,
// the EMA teacher, AdamW and schedules, safetensors and timm I/O.
export * from './backend/init-backend.js';
export * from './util/rng.js';
export * from './nn/params.js';
export { linear } from './nn/linear.js';
export { layerNorm } from './nn/layer-norm.js';
export { gelu } from './nn/gelu.js';
export { selfAttention } from './nn/attention.js';
export { mlp, transformerBlock, blockParamShapes } from './nn/block.js';
export * from './vit/config.js';
export * from './vit/patchify.js';
export * from './vit/pos-embed.js';
export * from './vit/vit.js';
export * from './masking/index.js';
export * from './teacher/index.js';
export * from './optim/index.js';
export * from './optim/value-and-grads.js';
export * from './io/index.js';
