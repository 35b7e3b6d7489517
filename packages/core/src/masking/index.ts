// Token masking (random, complementary rounds, block-wise) and the gather/scatter helpers that use it.
export { maskedCount, randomTokenMask, tokenMaskFromIndices, type MaskAmount, type TokenMask } from './random-mask.js';
export {
  checkComplementarySizes,
  complementaryTokenMask,
  type ComplementaryMask,
  type ComplementarySizes,
} from './complementary-mask.js';
export { blockTokenMask, type BlockMaskOptions } from './block-mask.js';
export { gatherTokens, replaceMasked, restoreTokens } from './gather.js';
export * from './reconstruction.js';
