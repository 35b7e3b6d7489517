// Datasets: the Dataset interface, IDX decoding, class names, the procedural set and the seeded,
// resumable batch iterator (file loaders are Node's: src/node/).
export * from './dataset.js';
export * from './uint8-dataset.js';
export * from './idx.js';
export * from './class-names.js';
export * from './procedural.js';
export * from './batcher.js';
