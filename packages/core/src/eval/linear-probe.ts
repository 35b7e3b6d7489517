// Linear probe: multinomial logistic regression with an L2 penalty on frozen features.
//
// Objective (x_i in R^D, y_i in {0..C-1}, W in R^{D x C}, b in R^C, n examples):
//
//   f(W, b) = (1/n) sum_i [ logsumexp_c (x_i W + b)_c - (x_i W + b)_{y_i} ]  +  (lambda/2) ||W||_F^2
//
// i.e. mean cross-entropy plus half lambda times the squared Frobenius norm of the weights; the bias is
// not penalised. scikit-learn's LogisticRegression (lbfgs, multinomial, intercept unpenalised)
// minimises C * sum_i CE_i + (1/2)||W||^2, which is n*C times f: the same minimiser when
//   C = 1 / (lambda * n)      (lambda = 1 / (C * n)).
//
// Solver: full-batch L-BFGS (memory 10, backtracking Armijo line search with safeguarded quadratic
// interpolation, accepting also Hager and Zhang's approximate Armijo test on the directional derivative
// once changes of f fall below its float32 resolution, initial Hessian scaling s'y / y'y). The expensive part, f and its analytic gradient
// (two [n, D] x [D, C] matMuls, softmax), runs on the backend in float32 with the data resident there;
// the curvature pairs and the two-loop recursion ((D+1)*C numbers) run on the JS side in float64.
// It stops when max |grad| <= gradientTolerance (default 1e-5, ten times stricter than scikit-learn's
// default tol on the same mean-scaled objective), or when the line search can no longer decrease f
// within float32 resolution ('no-progress'), or after maxIterations. Deterministic: no randomness, and
// a fixed sequence of backend ops.
//
// Probe protocol (linearProbe): features standardised with the train split's per-feature mean and
// standard deviation (population std; constant features get std 1, as scikit-learn's StandardScaler),
// computed once on the whole train split (also while choosing lambda) and applied to test; lambda chosen from a small grid by top-1 accuracy on a seeded
// random 10% of the train split (fit on the other 90%), grid fitted from the largest lambda down, each
// fit warm-started from the previous one; ties go to the larger lambda; then refit on the whole train
// split (warm-started from the selected 90% fit) and scored on test. Predictions are argmax of the
// logits (ties to the lower class index).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';
import type { LabelledFeatures } from './extract-features.js';
import { inferNumClasses } from './knn.js';
import { yieldToEventLoop } from '../util/yield.js';

export interface LogRegSolverOptions {
  /** Stop when the largest absolute gradient entry is at most this (default 1e-5). */
  gradientTolerance?: number;
  /** L-BFGS iterations at most (default 10000). */
  maxIterations?: number;
  /** L-BFGS memory (default 10). */
  memory?: number;
  /** Warm start (default zeros). */
  init?: { weights: ArrayLike<number>; bias: ArrayLike<number> };
}

export type StopReason = 'gradient' | 'no-progress' | 'max-iterations';

export interface LogRegModel {
  dim: number;
  numClasses: number;
  lambda: number;
  /** [dim, numClasses] row-major. */
  weights: Float64Array;
  /** [numClasses]. */
  bias: Float64Array;
  /** f at the solution (as evaluated in float32 on the backend). */
  objective: number;
  /** max |grad f| at the solution. */
  gradientMaxAbs: number;
  iterations: number;
  evaluations: number;
  stop: StopReason;
  /** The gradient criterion was met. */
  converged: boolean;
}

function checkLabels(labels: Int32Array, n: number, numClasses: number): void {
  if (labels.length !== n) throw new Error(`logistic regression: ${labels.length} labels for ${n} rows`);
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (!(y >= 0 && y < numClasses)) throw new Error(`logistic regression: label ${y} at row ${i} is outside 0..${numClasses - 1}`);
  }
}

function oneHot(labels: Int32Array, numClasses: number): tf.Tensor2D {
  const y = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) y[i * numClasses + labels[i]!] = 1;
  return tf.tensor2d(y, [labels.length, numClasses], 'float32');
}

/** f and grad f at theta = [W row-major (D x C), b (C)], as one [1 + (D+1)C] tensor (f first). */
function objectiveAndGradient(x: tf.Tensor2D, y: tf.Tensor2D, theta: tf.Tensor2D, lambda: number, withGradient: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    const [n, d] = x.shape;
    const c = y.shape[1];
    const w = tf.slice(theta, [0, 0], [d, c]);
    const b = tf.slice(theta, [d, 0], [1, c]);
    const z = tf.add(tf.matMul(x, w), b);
    const lse = tf.logSumExp(z, 1, true);
    const ce = tf.sub(lse, tf.sum(tf.mul(z, y), 1, true));
    const f = tf.add(tf.mean(ce), tf.mul(lambda / 2, tf.sum(tf.square(w))));
    if (!withGradient) return tf.reshape(f, [1]);
    const g = tf.sub(tf.exp(tf.sub(z, lse)), y);
    const gw = tf.add(tf.div(tf.matMul(x, g, true, false), n), tf.mul(lambda, w));
    const gb = tf.div(tf.sum(g, 0), n);
    return tf.concat([tf.reshape(f, [1]), tf.reshape(gw, [-1]), gb]) as tf.Tensor1D;
  });
}

function thetaTensor(theta: Float64Array, d: number, c: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(theta), [d + 1, c], 'float32');
}

/**
 * The objective f(W, b) defined in the header on the rows of `x` (used by tests to compare optima).
 * `weights` is [D, C] row-major.
 */
export async function logisticObjective(
  x: tf.Tensor2D,
  labels: Int32Array,
  numClasses: number,
  lambda: number,
  weights: ArrayLike<number>,
  bias: ArrayLike<number>,
): Promise<number> {
  const [n, d] = x.shape;
  checkLabels(labels, n, numClasses);
  if (weights.length !== d * numClasses || bias.length !== numClasses) throw new Error('logisticObjective: weights must be [D, C] and bias [C]');
  const theta = new Float64Array((d + 1) * numClasses);
  for (let i = 0; i < weights.length; i++) theta[i] = weights[i]!;
  for (let j = 0; j < numClasses; j++) theta[d * numClasses + j] = bias[j]!;
  const y = oneHot(labels, numClasses);
  const t = thetaTensor(theta, d, numClasses);
  const out = objectiveAndGradient(x, y, t, lambda, false);
  try {
    return (await out.data())[0]!;
  } finally {
    tf.dispose([y, t, out]);
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/**
 * Minimises the objective of the header by L-BFGS for one lambda. `x` [n, D] stays owned by the
 * caller; `labels` are class indices in 0..numClasses-1.
 */
export async function fitLogisticRegression(
  x: tf.Tensor2D,
  labels: Int32Array,
  numClasses: number,
  lambda: number,
  options: LogRegSolverOptions = {},
): Promise<LogRegModel> {
  const [n, d] = x.shape;
  if (n < 1) throw new Error('fitLogisticRegression: no rows');
  if (!(lambda >= 0)) throw new Error(`fitLogisticRegression: lambda must be >= 0, got ${lambda}`);
  checkLabels(labels, n, numClasses);
  const gtol = options.gradientTolerance ?? 1e-5;
  const maxIterations = options.maxIterations ?? 10000;
  const m = options.memory ?? 10;
  // Relative accuracy of f as computed in float32 (Hager-Zhang's epsilon).
  const fNoise = 1e-6;
  const size = (d + 1) * numClasses;

  let theta = new Float64Array(size);
  if (options.init) {
    if (options.init.weights.length !== d * numClasses || options.init.bias.length !== numClasses) {
      throw new Error('fitLogisticRegression: init must be weights [D, C] and bias [C]');
    }
    for (let i = 0; i < d * numClasses; i++) theta[i] = options.init.weights[i]!;
    for (let j = 0; j < numClasses; j++) theta[d * numClasses + j] = options.init.bias[j]!;
  }

  const y = oneHot(labels, numClasses);
  let evaluations = 0;
  const evaluate = async (at: Float64Array): Promise<{ f: number; g: Float64Array }> => {
    evaluations++;
    await yieldToEventLoop();
    const t = thetaTensor(at, d, numClasses);
    const out = objectiveAndGradient(x, y, t, lambda, true);
    t.dispose();
    let data: Float32Array;
    try {
      data = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    const g = new Float64Array(size);
    for (let i = 0; i < size; i++) g[i] = data[i + 1]!;
    return { f: data[0]!, g };
  };

  try {
    let { f, g } = await evaluate(theta);
    if (!Number.isFinite(f)) throw new Error('fitLogisticRegression: the objective is not finite at the start point');
    const sHist: Float64Array[] = [];
    const yHist: Float64Array[] = [];
    const rhoHist: number[] = [];
    let iterations = 0;
    let stop: StopReason = 'max-iterations';
    const alphaBuf = new Float64Array(m);
    const dir = new Float64Array(size);
    const trial = new Float64Array(size);

    while (true) {
      if (maxAbs(g) <= gtol) {
        stop = 'gradient';
        break;
      }
      if (iterations >= maxIterations) {
        stop = 'max-iterations';
        break;
      }
      // Search direction -H g by the two-loop recursion.
      for (let i = 0; i < size; i++) dir[i] = -g[i]!;
      const k = sHist.length;
      for (let j = k - 1; j >= 0; j--) {
        const a = rhoHist[j]! * dot(sHist[j]!, dir);
        alphaBuf[j] = a;
        const yj = yHist[j]!;
        for (let i = 0; i < size; i++) dir[i]! -= a * yj[i]!;
      }
      if (k > 0) {
        const yk = yHist[k - 1]!;
        const gamma = 1 / (rhoHist[k - 1]! * dot(yk, yk));
        for (let i = 0; i < size; i++) dir[i]! *= gamma;
      }
      for (let j = 0; j < k; j++) {
        const beta = rhoHist[j]! * dot(yHist[j]!, dir);
        const sj = sHist[j]!;
        const coef = alphaBuf[j]! - beta;
        for (let i = 0; i < size; i++) dir[i]! += coef * sj[i]!;
      }
      let gd = dot(g, dir);
      if (!(gd < 0)) {
        // Not a descent direction (numerical trouble): restart from steepest descent.
        sHist.length = yHist.length = rhoHist.length = 0;
        for (let i = 0; i < size; i++) dir[i] = -g[i]!;
        gd = dot(g, dir);
      }
      // Backtracking line search (Armijo, c1 = 1e-4) with safeguarded quadratic interpolation.
      let step = sHist.length === 0 ? Math.min(1, 1 / Math.sqrt(-gd)) : 1;
      let accepted: { f: number; g: Float64Array } | null = null;
      for (let tries = 0; tries < 25; tries++) {
        for (let i = 0; i < size; i++) trial[i] = theta[i]! + step * dir[i]!;
        const r = await evaluate(trial);
        // Armijo; or, once f changes fall below its float32 resolution, the approximate Armijo test
        // of Hager and Zhang on the directional derivative (equivalent for a quadratic).
        if (Number.isFinite(r.f) && (r.f <= f + 1e-4 * step * gd || (r.f <= f + fNoise * Math.abs(f) && dot(r.g, dir) <= -(1 - 2e-4) * gd))) {
          accepted = r;
          break;
        }
        const next = Number.isFinite(r.f) ? (-gd * step * step) / (2 * (r.f - f - gd * step)) : 0.1 * step;
        step = Math.min(0.5 * step, Math.max(0.1 * step, next));
      }
      if (!accepted) {
        if (sHist.length > 0) {
          // Drop the curvature memory and retry once along the steepest descent.
          sHist.length = yHist.length = rhoHist.length = 0;
          continue;
        }
        stop = 'no-progress';
        break;
      }
      const s = new Float64Array(size);
      const yv = new Float64Array(size);
      for (let i = 0; i < size; i++) {
        s[i] = trial[i]! - theta[i]!;
        yv[i] = accepted.g[i]! - g[i]!;
      }
      const sy = dot(s, yv);
      if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(yv, yv))) {
        if (sHist.length === m) {
          sHist.shift();
          yHist.shift();
          rhoHist.shift();
        }
        sHist.push(s);
        yHist.push(yv);
        rhoHist.push(1 / sy);
      }
      theta = Float64Array.from(trial);
      f = accepted.f;
      g = accepted.g;
      iterations++;
    }
    const gradientMaxAbs = maxAbs(g);
    return {
      dim: d,
      numClasses,
      lambda,
      weights: theta.slice(0, d * numClasses),
      bias: theta.slice(d * numClasses),
      objective: f,
      gradientMaxAbs,
      iterations,
      evaluations,
      stop,
      converged: gradientMaxAbs <= gtol,
    };
  } finally {
    y.dispose();
  }
}

/** Predicted classes argmax(x W + b) (ties to the lower class index). */
export async function predictLogistic(x: tf.Tensor2D, model: LogRegModel): Promise<Int32Array> {
  if (x.shape[1] !== model.dim) throw new Error(`predictLogistic: features have dim ${x.shape[1]}, the model ${model.dim}`);
  const out = tf.tidy(() => {
    const w = tf.tensor2d(Float32Array.from(model.weights), [model.dim, model.numClasses], 'float32');
    const b = tf.tensor1d(Float32Array.from(model.bias), 'float32');
    return tf.argMax(tf.add(tf.matMul(x, w), b), 1);
  });
  try {
    return Int32Array.from(await out.data());
  } finally {
    out.dispose();
  }
}

/** Fraction of predictions equal to the labels. */
export function accuracyOf(predictions: Int32Array, labels: Int32Array): number {
  if (predictions.length !== labels.length) throw new Error('accuracyOf: length mismatch');
  let c = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) c++;
  return labels.length > 0 ? c / labels.length : 0;
}

/** Per-feature mean and population standard deviation (float64; a zero std becomes 1). */
export function standardization(features: Float32Array, n: number, dim: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let j = 0; j < dim; j++) mean[j]! += features[row + j]!;
  }
  for (let j = 0; j < dim; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) {
    const row = i * dim;
    for (let j = 0; j < dim; j++) {
      const v = features[row + j]! - mean[j]!;
      std[j]! += v * v;
    }
  }
  for (let j = 0; j < dim; j++) {
    const s = Math.sqrt(std[j]! / n);
    std[j] = s > 0 ? s : 1;
  }
  return { mean, std };
}

/** (x - mean) / std on the backend, [n, dim]. */
export function standardizeTensor(features: Float32Array, n: number, dim: number, stats: { mean: Float64Array; std: Float64Array }): tf.Tensor2D {
  return tf.tidy(() => {
    const x = tf.tensor2d(features, [n, dim], 'float32');
    return tf.div(tf.sub(x, tf.tensor1d(Float32Array.from(stats.mean), 'float32')), tf.tensor1d(Float32Array.from(stats.std), 'float32')) as tf.Tensor2D;
  });
}

/** Default lambda grid of the probe (mean-scaled objective; C = 1 / (lambda * n)). */
export const defaultLambdaGrid: readonly number[] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

export interface LinearProbeOptions extends Omit<LogRegSolverOptions, 'init'> {
  /** Candidate lambdas (default defaultLambdaGrid); fitted largest first. A single value skips selection. */
  lambdas?: readonly number[];
  /** Fraction of the train split held out for choosing lambda (default 0.1). */
  heldOutFraction?: number;
  /** Seed of the held-out split (default 0). */
  seed?: number;
  /** Standardise features with train statistics (default true). */
  standardize?: boolean;
  numClasses?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface LinearProbeSelection {
  lambda: number;
  /** Top-1 accuracy on the held-out split, in [0, 1]. */
  heldOutAccuracy: number;
  iterations: number;
  converged: boolean;
}

export interface LinearProbeResult {
  /** Test top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** The chosen lambda (mean-scaled objective). */
  lambda: number;
  /** scikit-learn's equivalent C for the final fit, 1 / (lambda * numTrain). */
  sklearnC: number;
  numTrain: number;
  numTest: number;
  numHeldOut: number;
  /** One entry per candidate lambda (empty when a single lambda was given). */
  selection: LinearProbeSelection[];
  /** The final fit on the whole train split. */
  final: { objective: number; gradientMaxAbs: number; iterations: number; stop: StopReason; converged: boolean };
  /** Accuracy of the final model on the train split, in [0, 1]. */
  trainAccuracy: number;
}

/** Sorted indices of the seeded held-out part and the rest: the first round(fraction*n) of a permutation. */
export function heldOutSplit(n: number, fraction: number, seed: number): { fit: Int32Array; heldOut: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`heldOutSplit: fraction must be in (0, 1), got ${fraction}`);
  const perm = new Rng(seed).permutation(n);
  const h = Math.max(1, Math.min(n - 1, Math.round(fraction * n)));
  const heldOut = perm.slice(0, h).sort();
  const fit = perm.slice(h).sort();
  return { fit, heldOut };
}

function pick(labels: Int32Array, idx: Int32Array): Int32Array {
  const out = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = labels[idx[i]!]!;
  return out;
}

/** The linear-probe protocol of the header: lambda selection on a held-out 10%, refit, test top-1. */
export async function linearProbe(train: LabelledFeatures, test: LabelledFeatures, options: LinearProbeOptions = {}): Promise<LinearProbeResult> {
  if (train.dim !== test.dim) throw new Error(`linearProbe: train dim ${train.dim} != test dim ${test.dim}`);
  const numClasses = inferNumClasses([train, test], options.numClasses);
  const lambdas = [...(options.lambdas ?? defaultLambdaGrid)].sort((a, b) => b - a);
  if (lambdas.length === 0) throw new Error('linearProbe: empty lambda grid');
  if (lambdas.length > 1 && train.n < 2) throw new Error('linearProbe: choosing lambda needs at least 2 train examples');
  const solver: LogRegSolverOptions = {
    gradientTolerance: options.gradientTolerance,
    maxIterations: options.maxIterations,
    memory: options.memory,
  };
  const log = options.log ?? (() => {});
  const stats = options.standardize === false ? null : standardization(train.features, train.n, train.dim);
  const toTensor = (s: LabelledFeatures) =>
    stats ? standardizeTensor(s.features, s.n, s.dim, stats) : tf.tensor2d(s.features, [s.n, s.dim], 'float32');

  const xTrain = toTensor(train);
  try {
    const selection: LinearProbeSelection[] = [];
    let chosen = lambdas[0]!;
    let warm: LogRegModel | null = null;
    let numHeldOut = 0;
    if (lambdas.length > 1) {
      const split = heldOutSplit(train.n, options.heldOutFraction ?? 0.1, options.seed ?? 0);
      numHeldOut = split.heldOut.length;
      const yFit = pick(train.labels, split.fit);
      const yHeld = pick(train.labels, split.heldOut);
      const [xFit, xHeld] = tf.tidy(() => [tf.gather(xTrain, tf.tensor1d(split.fit, 'int32')), tf.gather(xTrain, tf.tensor1d(split.heldOut, 'int32'))]) as [
        tf.Tensor2D,
        tf.Tensor2D,
      ];
      try {
        let bestAcc = -1;
        let prev: LogRegModel | null = null;
        for (const lambda of lambdas) {
          const model: LogRegModel = await fitLogisticRegression(xFit, yFit, numClasses, lambda, {
            ...solver,
            ...(prev ? { init: { weights: prev.weights, bias: prev.bias } } : {}),
          });
          const acc = accuracyOf(await predictLogistic(xHeld, model), yHeld);
          selection.push({ lambda, heldOutAccuracy: acc, iterations: model.iterations, converged: model.converged });
          log(`linear probe: lambda ${lambda}: held-out ${(100 * acc).toFixed(2)}% (${model.iterations} iterations, ${model.stop})`);
          if (acc > bestAcc) {
            bestAcc = acc;
            chosen = lambda;
            warm = model;
          }
          prev = model;
        }
      } finally {
        tf.dispose([xFit, xHeld]);
      }
    }
    const init = warm ? { init: { weights: warm.weights, bias: warm.bias } } : {};
    const model = await fitLogisticRegression(xTrain, train.labels, numClasses, chosen, { ...solver, ...init });
    log(`linear probe: refit lambda ${chosen} on ${train.n}: ${model.iterations} iterations, ${model.stop}`);
    const trainAccuracy = accuracyOf(await predictLogistic(xTrain, model), train.labels);
    const xTest = toTensor(test);
    let accuracy: number;
    try {
      accuracy = accuracyOf(await predictLogistic(xTest, model), test.labels);
    } finally {
      xTest.dispose();
    }
    return {
      accuracy,
      lambda: chosen,
      sklearnC: chosen > 0 ? 1 / (chosen * train.n) : Infinity,
      numTrain: train.n,
      numTest: test.n,
      numHeldOut,
      selection,
      final: { objective: model.objective, gradientMaxAbs: model.gradientMaxAbs, iterations: model.iterations, stop: model.stop, converged: model.converged },
      trainAccuracy,
    };
  } finally {
    xTrain.dispose();
  }
}
