// Evaluation results: a typed object (zod schemas), its JSON form, and the markdown table every
// experiment prints (one row per feature source, e.g. `pixels`, `random-init`, a method; columns
// k-NN@20, k-NN@10, linear, low-shot 1 / 5 / 10 / 1% as mean ± std). `evaluate` runs the selected
// protocols on already extracted train/test features and returns one typed result row.
// Accuracies are stored as fractions in [0, 1] and rendered as percentages.
import { z } from 'zod';
import { requireLabels, type FeatureSet } from './extract-features.js';
import { knnClassify, type KnnOptions } from './knn.js';
import { linearProbe, type LinearProbeOptions } from './linear-probe.js';
import { lowShot, settingLabel, defaultLowShotSettings, type LowShotOptions } from './low-shot.js';

export const Protocol = z.enum(['knn', 'linear', 'lowshot']);
export type Protocol = z.infer<typeof Protocol>;

const Accuracy = z.number().min(0).max(1);

export const KnnSummary = z
  .object({
    temperature: z.number().positive(),
    byK: z.array(z.object({ k: z.number().int().positive(), accuracy: Accuracy }).strict()),
  })
  .strict();
export type KnnSummary = z.infer<typeof KnnSummary>;

export const LinearSummary = z
  .object({
    accuracy: Accuracy,
    /** Chosen lambda of the mean-scaled objective. */
    lambda: z.number().nonnegative(),
    /** scikit-learn's C for the final fit, 1 / (lambda * numTrain) (null when lambda = 0). */
    sklearnC: z.number().positive().nullable(),
    selection: z.array(z.object({ lambda: z.number().nonnegative(), heldOutAccuracy: Accuracy, iterations: z.number().int(), converged: z.boolean() }).strict()),
    trainAccuracy: Accuracy,
    iterations: z.number().int().nonnegative(),
    converged: z.boolean(),
  })
  .strict();
export type LinearSummary = z.infer<typeof LinearSummary>;

export const LowShotSummary = z
  .object({
    penalty: z.number().positive(),
    seeds: z.array(z.number().int()),
    settings: z.array(
      z
        .object({
          setting: z.string().regex(/^(\d+|\d+(\.\d+)?%)$/),
          numLabelled: z.array(z.number().int().positive()),
          accuracies: z.array(Accuracy),
          mean: Accuracy,
          std: z.number().nonnegative(),
          converged: z.boolean(),
        })
        .strict(),
    ),
  })
  .strict();
export type LowShotSummary = z.infer<typeof LowShotSummary>;

export const EvalResult = z
  .object({
    /** Row name: `pixels`, `random-init`, a method or checkpoint. */
    source: z.string().min(1),
    numTrain: z.number().int().nonnegative(),
    numTest: z.number().int().nonnegative(),
    featureDim: z.number().int().nonnegative(),
    seed: z.number().int(),
    knn: KnnSummary.optional(),
    linear: LinearSummary.optional(),
    lowShot: LowShotSummary.optional(),
  })
  .strict();
export type EvalResult = z.infer<typeof EvalResult>;

export const EvalReport = z
  .object({
    version: z.literal(1),
    /** e.g. `fashion-mnist`. */
    dataset: z.string().optional(),
    results: z.array(EvalResult),
  })
  .strict();
export type EvalReport = z.infer<typeof EvalReport>;

export function makeReport(results: EvalResult[], dataset?: string): EvalReport {
  return EvalReport.parse({ version: 1, ...(dataset !== undefined ? { dataset } : {}), results });
}

export function reportToJson(report: EvalReport): string {
  return JSON.stringify(EvalReport.parse(report), null, 2);
}

/** Parses and validates a report; the error names every bad field. */
export function reportFromJson(json: string): EvalReport {
  const r = EvalReport.safeParse(JSON.parse(json));
  if (!r.success) throw new Error(`invalid evaluation report: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

function settingOrder(a: string, b: string): number {
  const pa = a.endsWith('%');
  const pb = b.endsWith('%');
  if (pa !== pb) return pa ? 1 : -1;
  return parseFloat(a) - parseFloat(b);
}

export interface MarkdownOptions {
  /** Decimals of the percentages (default 1). */
  digits?: number;
}

/**
 * A markdown table: one row per result; columns k-NN@k (k = 20 and 10, plus any other k present,
 * largest first), linear, low-shot settings (1, 5, 10, 1%, plus others present) as `mean±std` in %.
 * A missing entry is `–`.
 */
export function renderMarkdown(report: EvalReport | EvalResult[], options: MarkdownOptions = {}): string {
  const results = Array.isArray(report) ? report : report.results;
  const digits = options.digits ?? 1;
  const pct = (x: number) => (100 * x).toFixed(digits);
  const ks = new Set<number>([20, 10]);
  const settings = new Set<string>(defaultLowShotSettings.map(settingLabel));
  for (const r of results) {
    for (const e of r.knn?.byK ?? []) ks.add(e.k);
    for (const s of r.lowShot?.settings ?? []) settings.add(s.setting);
  }
  const kCols = [...ks].sort((a, b) => b - a);
  const sCols = [...settings].sort(settingOrder);
  const header = ['features', ...kCols.map((k) => `k-NN@${k}`), 'linear', ...sCols.map((s) => `low-shot ${s}`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of results) {
    const cells = [r.source.replace(/\|/g, '\\|')];
    for (const k of kCols) {
      const e = r.knn?.byK.find((x) => x.k === k);
      cells.push(e ? pct(e.accuracy) : '–');
    }
    cells.push(r.linear ? pct(r.linear.accuracy) : '–');
    for (const s of sCols) {
      const e = r.lowShot?.settings.find((x) => x.setting === s);
      cells.push(e ? `${pct(e.mean)}±${pct(e.std)}` : '–');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

export interface EvaluateInput {
  /** Row name, e.g. `pixels`. */
  source: string;
  train: FeatureSet;
  test: FeatureSet;
}

export interface EvaluateOptions {
  knn?: KnnOptions;
  linear?: Omit<LinearProbeOptions, 'seed'>;
  lowShot?: Omit<LowShotOptions, 'seed'>;
  numClasses?: number;
  log?: (line: string) => void;
}

/**
 * Runs the selected protocols (in the order knn, linear, lowshot, whatever the order given) on frozen
 * train/test features. `seed` seeds the probe's held-out split and is the first low-shot seed.
 */
export async function evaluate(input: EvaluateInput, protocols: readonly Protocol[], seed: number, options: EvaluateOptions = {}): Promise<EvalResult> {
  const selected = new Set(protocols.map((p) => Protocol.parse(p)));
  if (!Number.isInteger(seed)) throw new Error(`evaluate: seed must be an integer, got ${seed}`);
  const train = requireLabels(input.train, `${input.source} train features`);
  const test = requireLabels(input.test, `${input.source} test features`);
  const log = options.log;
  const numClasses = options.numClasses;
  const result: EvalResult = { source: input.source, numTrain: train.n, numTest: test.n, featureDim: train.dim, seed };
  if (selected.has('knn')) {
    const r = await knnClassify(train, test, { ...(numClasses ? { numClasses } : {}), ...options.knn });
    result.knn = { temperature: r.temperature, byK: r.perK.map((e) => ({ k: e.k, accuracy: e.accuracy })) };
    log?.(`${input.source}: k-NN ${r.perK.map((e) => `@${e.k} ${(100 * e.accuracy).toFixed(2)}%`).join(', ')}`);
  }
  if (selected.has('linear')) {
    const r = await linearProbe(train, test, { ...(numClasses ? { numClasses } : {}), ...(log ? { log } : {}), ...options.linear, seed });
    result.linear = {
      accuracy: r.accuracy,
      lambda: r.lambda,
      sklearnC: Number.isFinite(r.sklearnC) ? r.sklearnC : null,
      selection: r.selection,
      trainAccuracy: r.trainAccuracy,
      iterations: r.final.iterations,
      converged: r.final.converged,
    };
    log?.(`${input.source}: linear ${(100 * r.accuracy).toFixed(2)}% (lambda ${r.lambda})`);
  }
  if (selected.has('lowshot')) {
    const r = await lowShot(train, test, { ...(numClasses ? { numClasses } : {}), ...(log ? { log } : {}), ...options.lowShot, seed });
    result.lowShot = r;
    log?.(`${input.source}: low-shot ${r.settings.map((s) => `${s.setting}: ${(100 * s.mean).toFixed(2)}±${(100 * s.std).toFixed(2)}%`).join(', ')}`);
  }
  return EvalResult.parse(result);
}
