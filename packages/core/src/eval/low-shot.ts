// Low-shot evaluation: n labelled train images per class (n in {1, 5, 10}, and 1% of the train split),
// drawn with a seeded Rng, a multinomial logistic regression (the linear probe's solver and objective)
// on L2-normalised frozen features, test top-1; repeated over 5 seeds, reported as mean and sample
// standard deviation (ddof = 1).
//
// Sampling, per (seed, setting), from `new Rng(seed)`: classes in increasing order, each class's train
// indices in increasing order, n of them by a partial Fisher-Yates shuffle; the chosen indices are then
// sorted. A setting 'p%' takes max(1, round(p/100 * count_c)) images of each class c (stratified, so
// p% of a balanced split overall). A class with fewer images than asked for is an error.
//
// Features: every row divided by max(||x||_2, 1e-12) (train and test), no standardisation.
// Penalty: with only a handful of labels there is nothing to hold out, so the strength is fixed, as in
// MSN/MOCA's low-shot logistic evaluation: minimise sum_i CE_i + (penalty/2) ||W||^2 (bias free), i.e.
// the probe's mean-scaled objective with lambda = penalty / n (scikit-learn C = 1 / penalty); default
// penalty 0.1 (MOCA's 1-shot setting).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';
import type { LabelledFeatures } from './extract-features.js';
import { inferNumClasses } from './knn.js';
import { accuracyOf, fitLogisticRegression, predictLogistic, type LogRegSolverOptions } from './linear-probe.js';

/** Images per class (a positive integer) or a percentage of the train split such as '1%'. */
export type LowShotSetting = number | `${number}%`;

export const defaultLowShotSettings: readonly LowShotSetting[] = [1, 5, 10, '1%'];

export interface LowShotOptions extends Omit<LogRegSolverOptions, 'init'> {
  /** Default [1, 5, 10, '1%']. */
  settings?: readonly LowShotSetting[];
  /** Repeats (default 5), with seeds seed, seed+1, ... */
  repeats?: number;
  /** First seed (default 0). */
  seed?: number;
  /** Sum-form L2 strength (default 0.1); lambda = penalty / n. */
  penalty?: number;
  numClasses?: number;
  log?: (line: string) => void;
}

export interface LowShotSettingResult {
  /** '1', '5', '10', '1%'. */
  setting: string;
  /** Labelled images drawn for each seed. */
  numLabelled: number[];
  /** Test top-1 in [0, 1], one per seed. */
  accuracies: number[];
  mean: number;
  /** Sample standard deviation (0 for a single repeat). */
  std: number;
  /** Every fit met the gradient criterion. */
  converged: boolean;
}

export interface LowShotResult {
  penalty: number;
  seeds: number[];
  settings: LowShotSettingResult[];
}

/** Canonical label of a setting: '5' or '1%'. */
export function settingLabel(s: LowShotSetting): string {
  return typeof s === 'number' ? String(s) : s;
}

function perClassCount(setting: LowShotSetting, classCount: number): number {
  if (typeof setting === 'number') {
    if (!Number.isInteger(setting) || setting < 1) throw new Error(`low-shot: images per class must be a positive integer, got ${setting}`);
    return setting;
  }
  const m = /^(\d+(?:\.\d+)?)%$/.exec(setting);
  const p = m ? Number(m[1]) : NaN;
  if (!(p > 0 && p <= 100)) throw new Error(`low-shot: bad setting '${setting}' (expected e.g. '1%')`);
  return Math.max(1, Math.round((p / 100) * classCount));
}

/**
 * Train indices of a low-shot subset (sorted), drawn from `rng` as described in the header.
 * Throws if a class has too few examples.
 */
export function sampleLowShot(labels: Int32Array, numClasses: number, setting: LowShotSetting, rng: Rng): Int32Array {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!(y >= 0 && y < numClasses)) throw new Error(`low-shot: label ${y} outside 0..${numClasses - 1}`);
    byClass[y]!.push(i);
  }
  const chosen: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const pool = byClass[c]!;
    const n = perClassCount(setting, pool.length);
    if (n > pool.length) throw new Error(`low-shot: class ${c} has ${pool.length} train examples, ${n} requested`);
    for (let i = 0; i < n; i++) {
      const j = i + rng.int(pool.length - i);
      const t = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = t;
      chosen.push(pool[i]!);
    }
  }
  return Int32Array.from(chosen).sort();
}

/** Rows divided by max(||row||_2, 1e-12), computed in float64. */
export function l2NormalizeRowsJs(features: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += features[row + j]! * features[row + j]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < dim; j++) out[row + j] = features[row + j]! * inv;
  }
  return out;
}

function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, std: 0 };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(v) };
}

/** The low-shot protocol of the header. */
export async function lowShot(train: LabelledFeatures, test: LabelledFeatures, options: LowShotOptions = {}): Promise<LowShotResult> {
  if (train.dim !== test.dim) throw new Error(`lowShot: train dim ${train.dim} != test dim ${test.dim}`);
  const numClasses = inferNumClasses([train, test], options.numClasses);
  const settings = options.settings ?? defaultLowShotSettings;
  const repeats = options.repeats ?? 5;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`lowShot: repeats must be a positive integer, got ${repeats}`);
  const base = options.seed ?? 0;
  const seeds = Array.from({ length: repeats }, (_, r) => base + r);
  const penalty = options.penalty ?? 0.1;
  if (!(penalty > 0)) throw new Error(`lowShot: penalty must be positive, got ${penalty}`);
  const solver: LogRegSolverOptions = {
    gradientTolerance: options.gradientTolerance,
    maxIterations: options.maxIterations,
    memory: options.memory,
  };
  const log = options.log ?? (() => {});
  const d = train.dim;
  const trainNorm = l2NormalizeRowsJs(train.features, train.n, d);
  const xTest = tf.tensor2d(l2NormalizeRowsJs(test.features, test.n, d), [test.n, d], 'float32');
  try {
    const results: LowShotSettingResult[] = [];
    for (const setting of settings) {
      const accuracies: number[] = [];
      const numLabelled: number[] = [];
      let converged = true;
      for (const seed of seeds) {
        const idx = sampleLowShot(train.labels, numClasses, setting, new Rng(seed));
        const xs = new Float32Array(idx.length * d);
        const ys = new Int32Array(idx.length);
        for (let i = 0; i < idx.length; i++) {
          xs.set(trainNorm.subarray(idx[i]! * d, (idx[i]! + 1) * d), i * d);
          ys[i] = train.labels[idx[i]!]!;
        }
        const x = tf.tensor2d(xs, [idx.length, d], 'float32');
        try {
          const model = await fitLogisticRegression(x, ys, numClasses, penalty / idx.length, solver);
          converged &&= model.converged;
          const acc = accuracyOf(await predictLogistic(xTest, model), test.labels);
          accuracies.push(acc);
          numLabelled.push(idx.length);
          log(`low-shot ${settingLabel(setting)} seed ${seed}: ${(100 * acc).toFixed(2)}% (${idx.length} labelled, ${model.iterations} iterations, ${model.stop})`);
        } finally {
          x.dispose();
        }
      }
      results.push({ setting: settingLabel(setting), numLabelled, accuracies, ...meanStd(accuracies), converged });
    }
    return { penalty, seeds, settings: results };
  } finally {
    xTest.dispose();
  }
}
