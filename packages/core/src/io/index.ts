// File formats: safetensors (read/write, validated) and the timm state-dict mapping of our ViT.
export * from './safetensors.js';
export * from './timm.js';
