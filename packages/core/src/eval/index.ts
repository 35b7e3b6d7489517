// Evaluation harness: frozen feature extraction, weighted k-NN, linear probe, low-shot logistic
// regression, and the typed report (JSON + markdown).
export * from './extract-features.js';
export * from './knn.js';
export * from './linear-probe.js';
export * from './low-shot.js';
export * from './report.js';
