// The evaluation harness on cases small enough to check by hand: weighted k-NN votes computed in the
// comments, a separable probe, the probe's optimum against scikit-learn's LogisticRegression (run from
// the project's Python venv when it has scikit-learn), low-shot sampling, leak-free extraction, and
// the report's JSON and markdown forms.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Batch, Dataset } from '../src/data/dataset.js';
import {
  evaluate,
  extractFeatures,
  fitLogisticRegression,
  heldOutSplit,
  knnClassify,
  linearProbe,
  logisticObjective,
  lowShot,
  makeReport,
  pixelFeatures,
  renderMarkdown,
  reportFromJson,
  reportToJson,
  sampleLowShot,
  vitFeatureFn,
  type EvalResult,
  type LabelledFeatures,
} from '../src/eval/index.js';
import { Rng } from '../src/util/rng.js';
import { parseVitConfig } from '../src/vit/config.js';
import { createVit, vitFeatures, vitForward } from '../src/vit/vit.js';
import { useBackend } from './helpers.js';

const backend = await useBackend();

// The repository's venv (scripts/setup.sh), wherever the checkout is.
const PYTHON = fileURLToPath(new URL('../../../.cache/venv/bin/python', import.meta.url));
function pythonStatus(): string | null {
  if (!existsSync(PYTHON)) return `no Python venv at ${PYTHON}`;
  const r = spawnSync(PYTHON, ['-c', 'import sklearn, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `scikit-learn/numpy not importable in ${PYTHON}`;
}
const noPython = pythonStatus();

function labelled(points: number[][], labels: number[], numClasses: number): LabelledFeatures {
  const dim = points[0]!.length;
  return { features: Float32Array.from(points.flat()), labels: Int32Array.from(labels), n: points.length, dim, numClasses };
}

/** Gaussian blobs: class c centred at `centres[c]`, unit-ish spread. */
function blobs(rng: Rng, centres: number[][], perClass: number, spread = 1): LabelledFeatures {
  const dim = centres[0]!.length;
  const points: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < perClass; i++) {
    for (let c = 0; c < centres.length; c++) {
      points.push(centres[c]!.map((m) => m + spread * rng.normal()));
      labels.push(c);
    }
  }
  return { ...labelled(points, labels, centres.length), dim };
}

describe('weighted k-NN (DINO knn_classifier)', () => {
  // Train points (2-D, not unit length: the classifier L2-normalises) and labels:
  //   A (10, 1) -> 0    B (2, 1) -> 1    C (3, -2) -> 1    D (0, 1) -> 0    E (-1, 1) -> 1    F (1, 3) -> 0
  const train = labelled([[10, 1], [2, 1], [3, -2], [0, 1], [-1, 1], [1, 3]], [0, 1, 1, 0, 1, 0], 2);
  // Query q1 = (1, 0), true class 0. Cosines: A 10/sqrt(101) = 0.995037, B 2/sqrt(5) = 0.894427,
  //   C 3/sqrt(13) = 0.832050, F 1/sqrt(10) = 0.316228, D 0, E -0.707107.
  //   k = 3 -> A (0), B (1), C (1): the majority says 1.
  //   T = 0.07: weights exp(cos/T) = exp(14.2148) = 1.49079e6 (A), exp(12.7775) = 3.54170e5 (B),
  //             exp(11.8864) = 1.45282e5 (C); votes: class 0 = 1.49079e6 > class 1 = 4.99452e5 -> 0.
  //   T = 1:    weights 2.7048 (A), 2.4459 (B), 2.2980 (C); class 0 = 2.7048 < class 1 = 4.7439 -> 1.
  // Query q2 = (-1, 2), true class 1. Cosines: E 3/sqrt(10) = 0.948683, D 2/sqrt(5) = 0.894427,
  //   F 5/sqrt(50) = 0.707107, B 0, A -0.355995, C -0.868243.
  //   k = 3 -> E (1), D (0), F (0): the majority says 0.
  //   T = 0.07: exp(13.5526) = 7.68825e5 (E) vs exp(12.7775) + exp(10.1015) = 3.54170e5 + 2.43802e4
  //             = 3.78550e5 -> 1.
  //   T = 1:    2.5823 (E) vs 2.4459 + 2.0281 = 4.4740 -> 0.
  //   k = 1 -> the nearest alone: q1 -> A (0), q2 -> E (1), whatever T.
  const test = labelled([[1, 0], [-1, 2]], [0, 1], 2);

  it('weighting by exp(sim/T) beats the majority at T = 0.07, and follows it at T = 1', async () => {
    const sharp = await knnClassify(train, test, { ks: [3, 1], temperature: 0.07, keepPredictions: true });
    expect(sharp.perK.map((e) => e.k)).toEqual([3, 1]);
    expect(Array.from(sharp.perK[0]!.predictions!)).toEqual([0, 1]);
    expect(sharp.perK[0]!.accuracy).toBe(1);
    expect(Array.from(sharp.perK[1]!.predictions!)).toEqual([0, 1]);
    const flat = await knnClassify(train, test, { ks: [3, 1], temperature: 1, keepPredictions: true });
    expect(Array.from(flat.perK[0]!.predictions!)).toEqual([1, 0]);
    expect(flat.perK[0]!.accuracy).toBe(0);
    expect(flat.perK[0]!.correct).toBe(0);
    expect(flat.perK[1]!.accuracy).toBe(1);
  });

  it('all six neighbours (k = 6) at T = 0.07 still follow the closest ones', async () => {
    // q1: class 0 = 1.49079e6 + 1 + 91.61 vs class 1 = 3.54170e5 + 1.45282e5 + 4.1e-5 -> 0.
    // q2: class 1 = 7.68825e5 + 1 + 4.1e-6 vs class 0 = 3.54170e5 + 2.43802e4 + 6.2e-3 -> 1.
    const r = await knnClassify(train, test, { ks: [6], keepPredictions: true });
    expect(Array.from(r.perK[0]!.predictions!)).toEqual([0, 1]);
  });

  it('ties: equal similarities keep the lower train index; equal votes go to the lower class', async () => {
    // Train rows 0 and 1 are the same direction, labels 1 and 0; row 2 points elsewhere.
    const dup = labelled([[1, 1], [2, 2], [1, -1]], [1, 0, 0], 2);
    const q = labelled([[3, 3]], [1], 2);
    const r = await knnClassify(dup, q, { ks: [1, 2], keepPredictions: true });
    expect(r.perK[0]!.predictions![0]).toBe(1); // k = 1: train row 0 (label 1)
    expect(r.perK[1]!.predictions![0]).toBe(0); // k = 2: one equal vote each -> class 0
  });

  it('rejects bad k and mismatched dims, and leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    await expect(knnClassify(train, test, { ks: [7] })).rejects.toThrow(/exceeds the 6 train/);
    await expect(knnClassify(train, labelled([[1, 2, 3]], [0], 2), { ks: [1] })).rejects.toThrow(/dim/);
    const rng = new Rng(3);
    const big = blobs(rng, [[0, 0, 0, 4], [0, 4, 0, 0], [4, 0, 0, 0]], 50);
    await knnClassify(big, blobs(rng, [[0, 0, 0, 4], [0, 4, 0, 0], [4, 0, 0, 0]], 20), { chunkSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('linear probe', () => {
  it('separates two separable classes perfectly, with the gradient criterion met', async () => {
    const rng = new Rng(11);
    const centres = [
      [3, 0, 0, 1, 0],
      [-3, 0, 0, 1, 0],
    ];
    const train = blobs(rng, centres, 60, 0.5);
    const test = blobs(rng, centres, 60, 0.5);
    const before = tf.memory().numTensors;
    const r = await linearProbe(train, test, { seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.accuracy).toBe(1);
    expect(r.trainAccuracy).toBe(1);
    expect(r.final.converged).toBe(true);
    expect(r.numHeldOut).toBe(12);
    expect(r.selection.map((s) => s.lambda)).toEqual([1e-2, 1e-3, 1e-4, 1e-5, 1e-6]);
    // Separable: every lambda classifies the held-out split perfectly; ties go to the largest.
    expect(r.lambda).toBe(1e-2);
    expect(r.sklearnC).toBeCloseTo(1 / (1e-2 * 120), 12);
  });

  it('is deterministic, and the held-out split is a seeded 10%', async () => {
    const s1 = heldOutSplit(1000, 0.1, 5);
    const s2 = heldOutSplit(1000, 0.1, 5);
    expect(s1.heldOut.length).toBe(100);
    expect(Array.from(s1.heldOut)).toEqual(Array.from(s2.heldOut));
    expect(Array.from(heldOutSplit(1000, 0.1, 6).heldOut)).not.toEqual(Array.from(s1.heldOut));
    const all = new Set([...s1.fit, ...s1.heldOut]);
    expect(all.size).toBe(1000);
    const rng = new Rng(2);
    const centres = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
    const train = blobs(rng, centres, 40, 0.8);
    const test = blobs(rng, centres, 40, 0.8);
    const a = await linearProbe(train, test, { seed: 3, lambdas: [1e-1, 1e-3] });
    const b = await linearProbe(train, test, { seed: 3, lambdas: [1e-3, 1e-1] });
    expect(b).toEqual(a);
  });

  it.skipIf(noPython !== null)(
    `reaches scikit-learn's optimum (multinomial LogisticRegression, C = 1/(lambda n)) to 1e-4 relative${noPython ? ` — skipped: ${noPython}` : ''}`,
    async () => {
      // A 4-class problem with overlapping classes (so the optimum is finite and non-trivial).
      const rng = new Rng(7);
      const n = 240;
      const d = 8;
      const classes = 4;
      const centres = Array.from({ length: classes }, () => Array.from({ length: d }, () => rng.normal(0, 1)));
      const data = blobs(rng, centres, n / classes, 1.2);
      for (const lambda of [1e-2, 1e-3]) {
        const x = tf.tensor2d(data.features, [n, d]);
        const ours = await fitLogisticRegression(x, data.labels, classes, lambda, { gradientTolerance: 1e-6 });
        const script = [
          'import sys, json, numpy as np',
          'from sklearn.linear_model import LogisticRegression',
          'p = json.load(sys.stdin)',
          "X = np.array(p['x'], dtype=np.float64).reshape(p['n'], p['d']); y = np.array(p['y'])",
          "lam = p['lam']; n = p['n']",
          'clf = LogisticRegression(C=1.0 / (lam * n), tol=1e-10, max_iter=100000).fit(X, y)',
          'W = clf.coef_.T; b = clf.intercept_',
          'z = X @ W + b; m = z.max(1, keepdims=True)',
          'lse = (np.log(np.exp(z - m).sum(1, keepdims=True)) + m)[:, 0]',
          'f = float(np.mean(lse - z[np.arange(n), y]) + lam / 2 * (W ** 2).sum())',
          "print(json.dumps({'W': W.ravel().tolist(), 'b': b.tolist(), 'f': f, 'shape': list(clf.coef_.shape)}))",
        ].join('\n');
        const r = spawnSync(PYTHON, ['-c', script], {
          input: JSON.stringify({ x: Array.from(data.features), y: Array.from(data.labels), n, d, lam: lambda }),
          encoding: 'utf8',
          env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
        });
        expect(r.status, r.stderr).toBe(0);
        const sk = JSON.parse(r.stdout) as { W: number[]; b: number[]; f: number; shape: number[] };
        expect(sk.shape).toEqual([classes, d]); // one weight vector per class: the multinomial model
        // sklearn's solution under our objective, evaluated on our backend and in float64 by Python.
        const fSkOurs = await logisticObjective(x, data.labels, classes, lambda, sk.W, sk.b);
        x.dispose();
        const rel = Math.abs(ours.objective - sk.f) / sk.f;
        console.log(`[eval] lambda ${lambda}: our f ${ours.objective.toFixed(8)} (${ours.iterations} L-BFGS iterations), sklearn f ${sk.f.toFixed(8)}, rel diff ${rel.toExponential(2)}`);
        expect(ours.converged).toBe(true);
        expect(rel).toBeLessThan(1e-4);
        expect(Math.abs(fSkOurs - sk.f) / sk.f).toBeLessThan(1e-5);
        // The minimiser itself (W is unique; both solvers keep sum(b) = 0 from a zero start).
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < sk.W.length; i++) {
          worst = Math.max(worst, Math.abs(ours.weights[i]! - sk.W[i]!));
          scale = Math.max(scale, Math.abs(sk.W[i]!));
        }
        for (let j = 0; j < classes; j++) worst = Math.max(worst, Math.abs(ours.bias[j]! - sk.b[j]!));
        expect(worst / scale).toBeLessThan(1e-3);
      }
    },
  );
});

describe('low-shot', () => {
  const numClasses = 3;
  // Imbalanced: 30, 50, 20 examples, interleaved.
  const labels = Int32Array.from([...Array(30).fill(0), ...Array(50).fill(1), ...Array(20).fill(2)]).sort();
  const shuffled = new Int32Array(labels.length);
  const perm = new Rng(9).permutation(labels.length);
  for (let i = 0; i < labels.length; i++) shuffled[i] = labels[perm[i]!]!;

  it('picks exactly n per class, distinct and sorted, deterministically per seed', () => {
    for (const n of [1, 5, 10]) {
      const a = sampleLowShot(shuffled, numClasses, n, new Rng(4));
      const b = sampleLowShot(shuffled, numClasses, n, new Rng(4));
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(a.length).toBe(n * numClasses);
      expect(new Set(a).size).toBe(a.length);
      expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
      const counts = [0, 0, 0];
      for (const i of a) counts[shuffled[i]!]!++;
      expect(counts).toEqual([n, n, n]);
    }
    expect(Array.from(sampleLowShot(shuffled, numClasses, 5, new Rng(5)))).not.toEqual(Array.from(sampleLowShot(shuffled, numClasses, 5, new Rng(4))));
    // A percentage is per class: round(10% of 30, 50, 20) = 3, 5, 2.
    const p = sampleLowShot(shuffled, numClasses, '10%', new Rng(1));
    const counts = [0, 0, 0];
    for (const i of p) counts[shuffled[i]!]!++;
    expect(counts).toEqual([3, 5, 2]);
    expect(() => sampleLowShot(shuffled, numClasses, 21, new Rng(1))).toThrow(/class 2 has 20/);
  });

  it('runs 5 seeds per setting, reports mean and sample std, and is deterministic', async () => {
    const rng = new Rng(21);
    const centres = [
      [5, 0, 0, 0],
      [0, 5, 0, 0],
      [0, 0, 5, 0],
    ];
    const train = blobs(rng, centres, 40, 1);
    const test = blobs(rng, centres, 30, 1);
    const before = tf.memory().numTensors;
    const a = await lowShot(train, test, { seed: 10 });
    expect(tf.memory().numTensors).toBe(before);
    const b = await lowShot(train, test, { seed: 10 });
    expect(b).toEqual(a);
    expect(a.seeds).toEqual([10, 11, 12, 13, 14]);
    expect(a.settings.map((s) => s.setting)).toEqual(['1', '5', '10', '1%']);
    expect(a.settings.map((s) => s.numLabelled)).toEqual([[3, 3, 3, 3, 3], [15, 15, 15, 15, 15], [30, 30, 30, 30, 30], [3, 3, 3, 3, 3]]);
    for (const s of a.settings) {
      expect(s.accuracies).toHaveLength(5);
      const mean = s.accuracies.reduce((x, y) => x + y, 0) / 5;
      const std = Math.sqrt(s.accuracies.reduce((x, y) => x + (y - mean) ** 2, 0) / 4);
      expect(s.mean).toBeCloseTo(mean, 12);
      expect(s.std).toBeCloseTo(std, 12);
      expect(s.converged).toBe(true);
    }
    // Well separated blobs: 10 shots per class are plenty.
    expect(a.settings[2]!.mean).toBeGreaterThan(0.9);
  });
});

/** A labelled dataset of random images generated on demand (no tensors held). */
function randomDataset(n: number, size: number, channels: number, numClasses: number): Dataset {
  return {
    name: 'random',
    length: n,
    imageShape: [size, size, channels],
    numClasses,
    labelled: true,
    getBatch(indices: ArrayLike<number>): Batch {
      const per = size * size * channels;
      const images = new Float32Array(indices.length * per);
      const labels = new Int32Array(indices.length);
      for (let i = 0; i < indices.length; i++) {
        const idx = indices[i]!;
        if (!(idx >= 0 && idx < n)) throw new Error(`index ${idx} out of range`);
        images.set(new Rng(1000 + idx).uniformArray(per), i * per);
        labels[i] = idx % numClasses;
      }
      return { images, labels, shape: [indices.length, size, size, channels] };
    },
  };
}

describe('feature extraction', () => {
  const config = parseVitConfig({ imageSize: 8, patchSize: 4, inChannels: 3, embedDim: 16, depth: 2, numHeads: 2 });
  const vit = createVit(config, new Rng(1), 'eval-test');
  const ds = randomDataset(300, 8, 3, 4);

  it('leaks no tensors over many batches, is deterministic, and reports progress', async () => {
    const fn = vitFeatureFn(config, vit.params, { pool: 'avg', normalize: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] } });
    await extractFeatures(ds, fn, { batchSize: 16, indices: [0, 1] }); // warm-up (kernel set-up)
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const a = await extractFeatures(ds, fn, { batchSize: 16, onProgress: (done, total) => progress.push(done / total) });
    expect(tf.memory().numTensors).toBe(before);
    expect(progress).toHaveLength(19); // ceil(300 / 16)
    expect(progress.at(-1)).toBe(1);
    expect(a.n).toBe(300);
    expect(a.dim).toBe(16);
    expect(a.numClasses).toBe(4);
    expect(Array.from(a.labels!.subarray(0, 6))).toEqual([0, 1, 2, 3, 0, 1]);
    const b = await extractFeatures(ds, fn, { batchSize: 16 });
    expect(b.features).toEqual(a.features);
    // The batch size changes nothing beyond float rounding.
    const c = await extractFeatures(ds, fn, { batchSize: 37 });
    let worst = 0;
    for (let i = 0; i < a.features.length; i++) worst = Math.max(worst, Math.abs(a.features[i]! - c.features[i]!));
    expect(worst).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches a direct forward, for avg and cls pooling', async () => {
    const idx = [5, 17, 250];
    for (const pool of ['avg', 'cls'] as const) {
      const got = await extractFeatures(ds, vitFeatureFn(config, vit.params, { pool }), { indices: idx, batchSize: 2 });
      const want = tf.tidy(() => {
        const batch = ds.getBatch(idx);
        return vitFeatures(config, vitForward(config, vit.params, tf.tensor4d(batch.images, batch.shape)).tokens, pool).dataSync();
      });
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got.features[i]! - want[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('pixelFeatures are the flattened raw pixels', async () => {
    const got = await extractFeatures(ds, pixelFeatures, { indices: [3, 9], batchSize: 1 });
    expect(got.dim).toBe(8 * 8 * 3);
    expect(got.features).toEqual(ds.getBatch([3, 9]).images);
  });

  it('names a wrong feature shape and non-finite features', async () => {
    await expect(extractFeatures(ds, (x) => tf.reshape(x, [-1, 8]) as tf.Tensor2D, { indices: [0, 1] })).rejects.toThrow(/expected \[2, D\]/);
    await expect(extractFeatures(ds, (x) => tf.div(pixelFeatures(x), 0) as tf.Tensor2D, { indices: [0] })).rejects.toThrow(/non-finite/);
  });
});

describe('report', () => {
  it('evaluate runs the selected protocols; JSON round-trips; markdown renders the table', async () => {
    const rng = new Rng(31);
    const centres = [
      [3, 0, 0],
      [0, 3, 0],
    ];
    const train = blobs(rng, centres, 40, 1);
    const test = blobs(rng, centres, 20, 1);
    const knnOnly = await evaluate({ source: 'pixels', train, test }, ['knn'], 0);
    expect(knnOnly.knn?.byK.map((e) => e.k)).toEqual([20, 10]);
    expect(knnOnly.linear).toBeUndefined();
    expect(knnOnly.lowShot).toBeUndefined();
    const full = await evaluate({ source: 'random-init', train, test }, ['lowshot', 'linear', 'knn'], 4, { lowShot: { settings: [1, 5] } });
    expect(full.knn).toBeDefined();
    expect(full.linear?.accuracy).toBeGreaterThan(0.9);
    expect(full.lowShot?.seeds).toEqual([4, 5, 6, 7, 8]);
    expect(full.numTrain).toBe(80);
    expect(full.featureDim).toBe(3);

    const report = makeReport([knnOnly, full], 'blobs');
    const json = reportToJson(report);
    expect(reportFromJson(json)).toEqual(report);
    expect(() => reportFromJson(json.replace('"version": 1', '"version": 2'))).toThrow(/version/);

    // Markdown on fixed numbers.
    const fixed: EvalResult[] = [
      { source: 'pixels', numTrain: 60000, numTest: 10000, featureDim: 784, seed: 0, knn: { temperature: 0.07, byK: [{ k: 20, accuracy: 0.8459 }, { k: 10, accuracy: 0.8559 }] } },
      {
        source: 'moca',
        numTrain: 60000,
        numTest: 10000,
        featureDim: 192,
        seed: 0,
        linear: { accuracy: 0.9012, lambda: 1e-4, sklearnC: 1 / 6, selection: [], trainAccuracy: 0.95, iterations: 100, converged: true },
        lowShot: {
          penalty: 0.1,
          seeds: [0, 1],
          settings: [
            { setting: '1%', numLabelled: [600, 600], accuracies: [0.8, 0.82], mean: 0.81, std: 0.0141421356, converged: true },
            { setting: '1', numLabelled: [10, 10], accuracies: [0.5, 0.6], mean: 0.55, std: 0.0707106781, converged: true },
          ],
        },
      },
    ];
    expect(renderMarkdown(makeReport(fixed))).toBe(
      [
        '| features | k-NN@20 | k-NN@10 | linear | low-shot 1 | low-shot 5 | low-shot 10 | low-shot 1% |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        '| pixels | 84.6 | 85.6 | – | – | – | – | – |',
        '| moca | – | – | 90.1 | 55.0±7.1 | – | – | 81.0±1.4 |',
        '',
      ].join('\n'),
    );
    expect(renderMarkdown(fixed, { digits: 2 }).split('\n')[2]).toBe('| pixels | 84.59 | 85.59 | – | – | – | – | – |');
  });
});

describe('backend', () => {
  it(`runs on ${backend.name}`, () => {
    expect(tf.getBackend()).toBe(backend.tfjsName);
  });
});
