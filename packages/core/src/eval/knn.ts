// Weighted k-nearest-neighbour classification on frozen features, exactly DINO's `knn_classifier`
// (eval_knn.py): features L2-normalised (x / max(||x||, 1e-12), as torch's F.normalize), similarity =
// cosine = dot product of normalised features, the k most similar train images of each test image
// vote for their label with weight exp(sim / T), prediction = argmax of the summed votes, top-1
// accuracy. Test rows are processed in chunks on the backend (one matMul of a chunk with all train
// features, then tf.topk); the top max(k) neighbours are found once and every k is scored from them.
//
// Ties (documented, deterministic):
//  - equal similarities at the k-th place: the neighbour with the lower train index is taken (the
//    TopKV2 convention every tfjs backend follows);
//  - equal summed votes of two classes: the lower class index wins (DINO sorts with torch.sort,
//    whose order among exact ties is unspecified).
// Votes are summed in float64 on the JS side from the float32 similarities.
import * as tf from '@tensorflow/tfjs-core';
import type { LabelledFeatures } from './extract-features.js';
import { yieldToEventLoop } from '../util/yield.js';
import { l2Normalize } from '../nn/l2-normalize.js';

export interface KnnOptions {
  /** Neighbour counts to score (default [20, 10]); all from one top-max(k) search. */
  ks?: readonly number[];
  /** Temperature T of the weights exp(sim / T) (default 0.07). */
  temperature?: number;
  /** Number of classes (default: the train set's numClasses, else 1 + the largest label seen). */
  numClasses?: number;
  /** Test rows per similarity matMul (default: about 2^25 similarities per chunk). */
  chunkSize?: number;
  /** Keep the predicted class of every test example (default false). */
  keepPredictions?: boolean;
  /** Called after each chunk with (test examples done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface KnnPerK {
  k: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  correct: number;
  /** [numTest] predicted classes, when `keepPredictions`. */
  predictions?: Int32Array;
}

export interface KnnResult {
  temperature: number;
  numTrain: number;
  numTest: number;
  /** In the order of `ks`. */
  perK: KnnPerK[];
}

/** Number of classes implied by explicit option, the sets' metadata, or the labels. */
export function inferNumClasses(sets: { labels: Int32Array; numClasses?: number }[], explicit?: number): number {
  let maxLabel = -1;
  for (const s of sets) for (let i = 0; i < s.labels.length; i++) maxLabel = Math.max(maxLabel, s.labels[i]!);
  let c = explicit ?? 0;
  if (!explicit) for (const s of sets) c = Math.max(c, s.numClasses ?? 0);
  if (c === 0) c = maxLabel + 1;
  if (maxLabel >= c) throw new Error(`label ${maxLabel} is out of range for ${c} classes`);
  for (const s of sets) for (let i = 0; i < s.labels.length; i++) if (s.labels[i]! < 0) throw new Error(`negative label ${s.labels[i]}`);
  return c;
}

/** Weighted k-NN top-1 accuracy of `test` against `train` for every k of `options.ks`. */
export async function knnClassify(train: LabelledFeatures, test: LabelledFeatures, options: KnnOptions = {}): Promise<KnnResult> {
  const ks = [...(options.ks ?? [20, 10])];
  const temperature = options.temperature ?? 0.07;
  if (ks.length === 0) throw new Error('knnClassify: ks is empty');
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`knnClassify: k must be a positive integer, got ${k}`);
    if (k > train.n) throw new Error(`knnClassify: k = ${k} exceeds the ${train.n} train examples`);
  }
  if (!(temperature > 0)) throw new Error(`knnClassify: temperature must be positive, got ${temperature}`);
  if (train.dim !== test.dim) throw new Error(`knnClassify: train dim ${train.dim} != test dim ${test.dim}`);
  if (train.features.length !== train.n * train.dim || test.features.length !== test.n * test.dim) {
    throw new Error('knnClassify: features length does not match n * dim');
  }
  const numClasses = inferNumClasses([train, test], options.numClasses);
  const kMax = Math.max(...ks);
  const nTest = test.n;
  const chunk = Math.max(1, Math.min(nTest, options.chunkSize ?? Math.floor(2 ** 25 / Math.max(1, train.n))));
  const trainLabels = train.labels;

  const predictions = ks.map(() => new Int32Array(nTest));
  const correct = ks.map(() => 0);
  const votes = new Float64Array(numClasses);
  const weights = new Float64Array(kMax);
  const trainT = tf.tidy(() => l2Normalize(tf.tensor2d(train.features, [train.n, train.dim], 'float32')));
  try {
    for (let start = 0; start < nTest; start += chunk) {
      await yieldToEventLoop();
      const rows = Math.min(chunk, nTest - start);
      const { values, indices } = tf.tidy(() => {
        const q = l2Normalize(tf.tensor2d(test.features.subarray(start * test.dim, (start + rows) * test.dim), [rows, test.dim], 'float32'));
        const sim = tf.matMul(q, trainT, false, true);
        return tf.topk(sim, kMax, true);
      });
      let sims: Float32Array;
      let idx: Int32Array;
      try {
        [sims, idx] = (await Promise.all([values.data(), indices.data()])) as [Float32Array, Int32Array];
      } finally {
        values.dispose();
        indices.dispose();
      }
      for (let r = 0; r < rows; r++) {
        const base = r * kMax;
        for (let j = 0; j < kMax; j++) weights[j] = Math.exp(sims[base + j]! / temperature);
        const target = test.labels[start + r]!;
        for (let q = 0; q < ks.length; q++) {
          const k = ks[q]!;
          votes.fill(0);
          for (let j = 0; j < k; j++) votes[trainLabels[idx[base + j]!]!]! += weights[j]!;
          let best = 0;
          for (let c = 1; c < numClasses; c++) if (votes[c]! > votes[best]!) best = c;
          predictions[q]![start + r] = best;
          if (best === target) correct[q]!++;
        }
      }
      options.onProgress?.(start + rows, nTest);
    }
  } finally {
    trainT.dispose();
  }
  return {
    temperature,
    numTrain: train.n,
    numTest: nTest,
    perK: ks.map((k, q) => ({
      k,
      accuracy: nTest > 0 ? correct[q]! / nTest : 0,
      correct: correct[q]!,
      ...(options.keepPredictions ? { predictions: predictions[q]! } : {}),
    })),
  };
}
