// The losses methods compose: one per file, each with its paper and an example.
export * from './info-nce.js';
export * from './kl-divergence.js';
export * from './smooth-l1.js';
