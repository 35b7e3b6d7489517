// @maskedssl/moca: MOCA (masked online codebook assignments prediction, Gidaris et al., TMLR 2024) as
// an ObjectiveDefinition for @maskedssl/core's trainer, and its parts: the online codebook, the
// dynamic prototype generators, the token-level decoder and the masking rounds (its KL losses are
// core's klDivergence).
// The CLI registers every ObjectiveDefinition exported here: `moca` is the only one.
/** @module @maskedssl/moca */
export { moca, MocaObjective } from './moca.js';
export { checkGeometry, MocaConfig, MaskCounts, maskSizes, mocaPresets, parseMocaConfig, type MocaConfigInput } from './config.js';
export {
  assignWords,
  bagOfWords,
  codebookPerplexity,
  DIST_NORM_DECAY,
  DIST_NORM_INIT,
  emaDistNorm,
  gatherNewWords,
  initialWords,
  interiorPositions,
  l1Normalize,
  newWordIndices,
  NORMALIZE_EPS,
  OnlineCodebook,
  type Assignment,
} from './codebook.js';
export {
  createPrototypeGenerator,
  generatePrototypes,
  prototypeGeneratorShapes,
  prototypeLogits,
  type PrototypeGeneratorConfig,
} from './prototype-generator.js';
export { createDecoder, decoderForward, decoderParamShapes, type DecoderConfig, type DecoderRound } from './decoder.js';
export { maskingRounds, type MaskingRounds } from './rounds.js';
