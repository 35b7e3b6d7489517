// @maskedssl/baselines: the comparison methods on @maskedssl/core, one file per method.
/** @module @maskedssl/baselines */
export * from './mae.js';
export * from './mocov3.js';
export * from './maskco.js';
export * from './simmim.js';
export * from './mfm.js';
export * from './moma.js';
export * from './ibot.js';
