// @maskedssl/moca: MOCA (masked online codebook assignments prediction, Gidaris et al., TMLR 2024) as
// an ObjectiveDefinition for @maskedssl/core's trainer, and its parts: the online codebook, the
// dynamic prototype generators, the token-level decoder, the masking rounds and the losses.
// The CLI registers every ObjectiveDefinition exported here: `moca` is the only one.
export { moca, MocaObjective } from './moca.js';
export { MocaConfig, MaskCounts, maskSizes, mocaPresets, parseMocaConfig, resolveVit, type MocaConfigInput } from './config.js';
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
  l2Normalize,
  newWordIndices,
  NORMALIZE_EPS,
  OnlineCodebook,
  ringWrite,
  type Assignment,
} from './codebook.js';
export {
  batchNorm,
  createPrototypeGenerator,
  generatePrototypes,
  prototypeGeneratorShapes,
  prototypeLogits,
  type PrototypeGeneratorConfig,
} from './prototype-generator.js';
export { createDecoder, decoderForward, decoderParamShapes, type DecoderConfig, type DecoderRound } from './decoder.js';
export { maskingRounds, type MaskingRounds } from './rounds.js';
export { klDivergence, weightedKlDivergence } from './losses.js';
