// The training loop for any Objective: batches from a seeded Batcher, views from the method's
// augmentation pipelines, the loss and its gradients inside one tf.tidy, global-norm clipping, AdamW
// with the method's parameter groups and cosine lr / weight-decay schedules, the method's afterStep
// (EMA teacher, codebook), and around it: budgets (steps, epochs, wall-clock), progress, JSONL
// metrics, optional online k-NN, checkpoints with exact resume, a stop on a non-finite loss (keeping
// a checkpoint of the last good state) and, in Node, SIGINT/SIGTERM handling. Metrics and checkpoints
// go to a RunStore: a run folder in Node (`fileRunStore` of '@maskedssl/core/node'), anything else in a
// page; without one nothing is written.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseOrThrow } from '../util/config.js';
import { augmentView } from '../augment/pipeline.js';
import { assertWebGpuHealthy } from '../backend/webgpu.js';
import { Batcher, type BatcherState } from '../data/batcher.js';
import { batchToTensors, type Dataset } from '../data/dataset.js';
import { extractFeatures, requireLabels, vitFeatureFn } from '../eval/extract-features.js';
import { knnClassify } from '../eval/knn.js';
import { AdamW } from '../optim/adamw.js';
import { clipByGlobalNorm } from '../optim/clip.js';
import { cosineSchedule, type Schedule } from '../optim/schedules.js';
import { valueAndGrads } from '../optim/value-and-grads.js';
import { Rng, type RngState } from '../util/rng.js';
import { isNode } from '../util/runtime.js';
import { yieldToEventLoop } from '../util/yield.js';
import { Budget, formatBudget, parseBudget } from './budget.js';
import { encodeCheckpoint, type LoadedCheckpoint } from './checkpoint-format.js';
import { assignVariables } from './restore.js';
import type { Objective, StepInfo } from './objective.js';
import { updateMomentumPairs } from './momentum.js';
import { consoleReporter, memoryReporter, type ProgressReporter, type StepRecord } from './progress.js';

export const TrainerConfig = z
  .object({
    batchSize: z.number().int().positive().default(64),
    /** "500" / "500steps", "3epochs", "90s" / "10m" / "1h", or a Budget object. */
    budget: z.union([z.string(), Budget]).default('200steps'),
    seed: z.number().int().nonnegative().default(0),
    /** Peak learning rate (after warmup). */
    lr: z.number().positive().default(1e-3),
    /** Learning rate at the end of the cosine. */
    minLr: z.number().nonnegative().default(0),
    /** Linear warmup length as a fraction of the run. */
    warmup: z.number().min(0).max(1).default(0.05),
    weightDecay: z.number().nonnegative().default(0.05),
    /** Weight decay at the end (cosine from weightDecay); defaults to weightDecay (constant). */
    weightDecayEnd: z.number().nonnegative().optional(),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.95]),
    /** Global gradient-norm clipping threshold; null for none. */
    clipGradNorm: z.number().positive().nullable().default(null),
    /** Checkpoint every N steps (0: only at the end, on a stop, and on SIGINT/SIGTERM). */
    checkpointEvery: z.number().int().nonnegative().default(0),
    keepCheckpoints: z.number().int().positive().default(3),
    /** Plain-text progress line every N steps (TTYs update every step). */
    logEvery: z.number().int().positive().default(10),
    /** Online k-NN every N steps (0: off) on `knnTrain` / `knnTest` images of the evaluation split. */
    knnEvery: z.number().int().nonnegative().default(0),
    knnTrain: z.number().int().positive().default(5000),
    knnTest: z.number().int().positive().default(1000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.minLr > c.lr) ctx.addIssue({ code: 'custom', path: ['minLr'], message: `minLr ${c.minLr} exceeds lr ${c.lr}` });
    if (typeof c.budget === 'string') {
      try {
        parseBudget(c.budget);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['budget'], message: (e as Error).message });
      }
    }
  });
export type TrainerConfig = z.output<typeof TrainerConfig>;
export type TrainerConfigInput = z.input<typeof TrainerConfig>;

/** Validates a trainer config; the error names every bad field. */
export function parseTrainerConfig(input: unknown): TrainerConfig {
  return parseOrThrow(TrainerConfig, input, 'trainer config');
}

export class NonFiniteLossError extends Error {
  constructor(
    message: string,
    readonly step: number,
    readonly checkpoint: string | undefined,
  ) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

/** Where a run keeps its metrics log and checkpoints. */
export interface RunStore {
  /** Appends one step's record to the run's metrics log. */
  appendMetrics(record: Record<string, unknown>): Promise<void>;
  /** Writes a checkpoint (tensors read, not disposed), keeping the newest `keep`; returns where it went. */
  saveCheckpoint(step: number, tensors: Record<string, tf.Tensor>, state: Record<string, unknown>, keep: number): Promise<string>;
  /** Reads a checkpoint: what saveCheckpoint returned (or, in Node, any checkpoint path). */
  loadCheckpoint(ref: string): Promise<LoadedCheckpoint>;
}

export interface TrainerSetup {
  objective: Objective;
  /** The registered method name (checked on resume). */
  method: string;
  config: TrainerConfig;
  dataset: Dataset;
  /** Where metrics and checkpoints go (Node: fileRunStore(runFolder)); none: nothing is written. */
  store?: RunStore;
  /** Labelled train/test sets for the online k-NN (needs config.knnEvery > 0). */
  knnData?: { train: Dataset; test: Dataset };
  /** Saved in every checkpoint (e.g. the method config and dataset, to rebuild the run). */
  runInfo?: Record<string, unknown>;
  reporter?: ProgressReporter;
  /** Write a checkpoint and stop on SIGINT/SIGTERM (default true in Node). */
  handleSignals?: boolean;
  /** Milliseconds for time budgets and throughput (default performance.now; tests pass a fake clock). */
  clock?: () => number;
}

export interface TrainResult {
  /** Steps completed in total (including those before a resume). */
  steps: number;
  totalSteps: number;
  /** Losses of the steps run by this call, in order. */
  losses: number[];
  stoppedBy: 'budget' | 'limit' | 'SIGINT' | 'SIGTERM';
  /** The last checkpoint written, if any. */
  checkpoint?: string;
  elapsedSeconds: number;
  /** Last online k-NN accuracy, when measured. */
  knn?: number;
}

const CheckpointState = z.object({
  method: z.string(),
  budget: Budget,
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().positive().nullable(),
  elapsedSeconds: z.number().nonnegative(),
  rng: z.object({ words: z.tuple([z.number(), z.number(), z.number(), z.number()]), spareNormal: z.number().nullable() }),
  batcher: z.record(z.string(), z.unknown()),
  optimizer: z.object({ step: z.number().int().nonnegative(), paramSteps: z.record(z.string(), z.number()) }),
  objective: z.record(z.string(), z.unknown()).optional(),
  run: z.record(z.string(), z.unknown()).optional(),
});

/**
 * A time budget fixes the run's length from the speed of steps WARMUP_STEPS..CALIBRATION_STEPS-1 of
 * the run; the first steps are slower (kernel selection, allocator growth) and are not timed. Steps
 * often speed up further over the first minutes (a method's state filling up, the allocator settling),
 * so the length is re-fixed from the steps since the last fix at 2x, 4x, 8x... CALIBRATION_STEPS,
 * while less than RECALIBRATE_UNTIL of the budget's time is spent. Each fix stretches or shrinks the
 * step-based schedules (warmup, cosine, momentum) to the new length from then on, so the lr moves by
 * the difference between the two plans at the current step; a resumed run re-fixes the same way.
 */
const CALIBRATION_STEPS = 12;
const WARMUP_STEPS = 2;
const RECALIBRATE_UNTIL = 0.5;

export class Trainer {
  readonly objective: Objective;
  private readonly config: TrainerConfig;
  private readonly budget: Budget;
  private readonly optimizer: AdamW;
  private readonly batcher: Batcher;
  private readonly rng: Rng;
  private readonly reporter: ProgressReporter;
  private step = 0;
  private totalSteps: number | null;
  private elapsedBefore = 0;
  private lastCheckpoint: string | undefined;
  private knnIndices: { train: Int32Array; test: Int32Array } | undefined;

  constructor(private readonly setup: TrainerSetup) {
    this.objective = setup.objective;
    this.config = setup.config;
    this.budget = typeof this.config.budget === 'string' ? parseBudget(this.config.budget) : this.config.budget;
    const root = new Rng(this.config.seed);
    this.batcher = new Batcher(setup.dataset, { batchSize: this.config.batchSize, rng: root.fork() });
    this.rng = root.fork();
    this.optimizer = new AdamW(this.objective.paramGroups(), { betas: this.config.betas });
    this.reporter = setup.reporter ?? (isNode ? consoleReporter(process.stderr, this.config.logEvery) : memoryReporter());
    this.totalSteps =
      this.budget.kind === 'steps' ? this.budget.steps : this.budget.kind === 'epochs' ? Math.max(1, Math.ceil(this.budget.epochs * this.batcher.stepsPerEpoch)) : null;
    if (this.config.knnEvery > 0) {
      const knn = setup.knnData;
      if (!knn) throw new Error('trainer: knnEvery > 0 needs knnData (a labelled train and test set)');
      const pick = (n: number, length: number) => {
        const p = new Rng(this.config.seed + 7919).permutation(length);
        return p.slice(0, Math.min(n, length)).sort();
      };
      this.knnIndices = { train: pick(this.config.knnTrain, knn.train.length), test: pick(this.config.knnTest, knn.test.length) };
    }
  }

  /**
   * Restores a run from a checkpoint: a loaded one, or one the store reads (in Node: a checkpoint
   * folder, or a folder of them, whose newest is taken).
   */
  async restore(source: string | LoadedCheckpoint): Promise<void> {
    let ckpt: LoadedCheckpoint;
    if (typeof source !== 'string') ckpt = source;
    else if (this.setup.store) ckpt = await this.setup.store.loadCheckpoint(source);
    else throw new Error(`trainer: cannot read checkpoint ${source} without a store; pass a loaded checkpoint`);
    const parsed = CheckpointState.safeParse(ckpt.state);
    if (!parsed.success) throw new Error(`checkpoint ${ckpt.path}: not a training checkpoint (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    const s = parsed.data;
    if (s.method !== this.setup.method) throw new Error(`checkpoint ${ckpt.path} was written by method '${s.method}', not '${this.setup.method}'`);
    if (JSON.stringify(s.budget) !== JSON.stringify(this.budget)) {
      throw new Error(`checkpoint ${ckpt.path} belongs to a run with budget ${formatBudget(s.budget)}; resume it with that budget (got ${formatBudget(this.budget)})`);
    }
    assignVariables(this.objective.variables(), ckpt);
    const moments: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(ckpt.tensors)) {
      if (k.startsWith('optim/')) moments[k.slice('optim/'.length)] = tf.tensor(t.data as Float32Array, t.shape, 'float32');
    }
    try {
      this.optimizer.setState({ step: s.optimizer.step, paramSteps: s.optimizer.paramSteps, moments });
    } finally {
      tf.dispose(Object.values(moments));
    }
    this.rng.setState(s.rng as { words: RngState; spareNormal: number | null });
    this.batcher.setState(s.batcher as unknown as BatcherState);
    if (s.objective) this.objective.setState?.(s.objective);
    this.step = s.step;
    this.totalSteps = s.totalSteps;
    this.elapsedBefore = s.elapsedSeconds;
    this.lastCheckpoint = ckpt.path;
    this.reporter.message(`resumed from ${ckpt.path} at step ${s.step}`);
  }

  /** Writes a checkpoint of the current state to the store; returns where it went (undefined without a store). */
  async checkpoint(elapsedSeconds: number): Promise<string | undefined> {
    const store = this.setup.store;
    if (!store) return undefined;
    const { tensors, state, moments } = this.checkpointContents(elapsedSeconds);
    try {
      this.lastCheckpoint = await store.saveCheckpoint(this.step, tensors, state, this.config.keepCheckpoints);
      return this.lastCheckpoint;
    } finally {
      tf.dispose(moments);
    }
  }

  /** The current state as checkpoint files (as a store writes them), e.g. for a page to download. */
  async encodeCheckpoint(): Promise<{ tensorsBytes: Uint8Array; stateJson: string }> {
    const { tensors, state, moments } = this.checkpointContents(this.elapsedBefore);
    try {
      return await encodeCheckpoint(this.step, tensors, state);
    } finally {
      tf.dispose(moments);
    }
  }

  /** The variables, copies of the optimiser moments (`moments`, the caller disposes them) and the JSON state. */
  private checkpointContents(elapsedSeconds: number): { tensors: Record<string, tf.Tensor>; state: Record<string, unknown>; moments: tf.Tensor[] } {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, v] of Object.entries(this.objective.variables())) tensors[`var/${name}`] = v;
    const opt = this.optimizer.getState();
    for (const [k, t] of Object.entries(opt.moments)) tensors[`optim/${k}`] = t;
    const state: z.infer<typeof CheckpointState> = {
      method: this.setup.method,
      budget: this.budget,
      step: this.step,
      totalSteps: this.totalSteps,
      elapsedSeconds,
      rng: this.rng.getState(),
      batcher: this.batcher.getState() as unknown as Record<string, unknown>,
      optimizer: { step: opt.step, paramSteps: opt.paramSteps },
      ...(this.objective.getState && { objective: this.objective.getState() }),
      ...(this.setup.runInfo && { run: this.setup.runInfo }),
    };
    return { tensors, state, moments: Object.values(opt.moments) };
  }

  private schedules(total: number): { lr: Schedule; wd: Schedule } {
    const c = this.config;
    const warmupSteps = Math.min(total, Math.round(c.warmup * total));
    return {
      lr: cosineSchedule({ base: c.lr, final: c.minLr, totalSteps: total, warmupSteps }),
      wd: cosineSchedule({ base: c.weightDecay, final: c.weightDecayEnd ?? c.weightDecay, totalSteps: total }),
    };
  }

  /** k-NN top-1 (k = 20, T = 0.07) of the objective's backbone on the held-out subsets. */
  async onlineKnn(): Promise<number> {
    const data = this.setup.knnData!;
    const idx = this.knnIndices!;
    const { config, params } = this.objective.backbone();
    const fn = vitFeatureFn(config, params);
    const train = requireLabels(await extractFeatures(data.train, fn, { indices: idx.train }));
    const test = requireLabels(await extractFeatures(data.test, fn, { indices: idx.test }));
    const r = await knnClassify(train, test, { ks: [20], temperature: 0.07 });
    return r.perK[0]!.accuracy;
  }

  /**
   * Trains until the budget is spent, or `limit` more steps have run, or `stopWhen()` says so before a
   * step (a pause: a later run() continues; stoppedBy is then 'limit'). Writes a checkpoint at the end
   * when there is a store.
   */
  async run({ limit, stopWhen }: { limit?: number; stopWhen?: () => boolean } = {}): Promise<TrainResult> {
    const c = this.config;
    const now = this.setup.clock ?? (() => performance.now());
    const store = this.setup.store;
    let stopSignal: 'SIGINT' | 'SIGTERM' | null = null;
    const onSignal = (sig: 'SIGINT' | 'SIGTERM') => () => {
      stopSignal = sig;
    };
    const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
    const handleSignals = isNode && (this.setup.handleSignals ?? true);
    if (handleSignals) for (const [sig, h] of Object.entries(handlers)) process.on(sig, h);

    const learnable: Record<string, tf.Variable> = {};
    for (const g of this.objective.paramGroups()) Object.assign(learnable, g.params);
    const losses: number[] = [];
    const start = now();
    // Training wall-clock: everything but the online k-NN evaluations, which do not spend the budget.
    let evalSeconds = 0;
    const elapsed = () => this.elapsedBefore + (now() - start) / 1000 - evalSeconds;
    const startStep = this.step;
    let windowStart = now();
    let windowImages = 0;
    let trainSeconds = 0;
    let calibrationSeconds = 0;
    let calibrationSteps = 0;
    let nextCalibration = CALIBRATION_STEPS;
    let lastKnn: number | undefined;
    let stoppedBy: TrainResult['stoppedBy'] = 'budget';
    this.reporter.message(
      `training ${this.setup.method}: ${formatBudget(this.budget)}, batch ${c.batchSize}, ${this.batcher.stepsPerEpoch} steps/epoch, backend ${tf.getBackend()}`,
    );
    try {
      for (;;) {
        // On backends that compute synchronously (native TensorFlow, wasm) a step's awaits resolve at
        // once; a turn of the event loop lets signals and a page's messages (pause, stop) in.
        await yieldToEventLoop();
        if (this.totalSteps !== null && this.step >= this.totalSteps) break;
        if (this.budget.kind === 'time' && elapsed() >= this.budget.seconds) break;
        if (stopSignal) {
          stoppedBy = stopSignal;
          break;
        }
        if ((limit !== undefined && this.step - startStep >= limit) || stopWhen?.()) {
          stoppedBy = 'limit';
          break;
        }
        const stepStart = now();
        // A time budget runs a few steps against a provisional length, then fixes it from their speed.
        const total = this.totalSteps ?? CALIBRATION_STEPS * 1000;
        const { lr, wd } = this.schedules(total);
        const item = this.batcher.next();
        const info: StepInfo = { step: this.step, totalSteps: total, epoch: item.epoch };
        let metrics: Record<string, tf.Scalar> = {};
        const { value, grads } = tf.tidy(() => {
          const { images } = batchToTensors(item.batch);
          const given = this.objective.sampleViews?.(images.shape[0], this.rng);
          const augmented = this.objective.views.map((p, i) => augmentView(images, p, this.rng, given?.[i]));
          const views = augmented.map((a) => a.view);
          return valueAndGrads(() => {
            const r = this.objective.loss(views, info, this.rng, augmented.map((a) => a.geometry));
            metrics = Object.fromEntries(Object.entries(r.metrics ?? {}).map(([k, t]) => [k, tf.keep(t)]));
            return r.loss;
          }, learnable);
        });
        const loss = (await value.data())[0]!;
        // WebGPU reports a rejected shader or a lost device asynchronously and computes on: stop here.
        assertWebGpuHealthy(`at step ${this.step}`);
        const metricValues: Record<string, number> = {};
        for (const [k, t] of Object.entries(metrics)) metricValues[k] = (await t.data())[0]!;
        tf.dispose([value, ...Object.values(metrics)]);
        if (!Number.isFinite(loss)) {
          tf.dispose(Object.values(grads));
          const path = await this.checkpoint(elapsed());
          const parts = Object.entries(metricValues).map(([k, v]) => `${k}=${v}`).join(', ');
          throw new NonFiniteLossError(
            `loss is ${loss} at step ${this.step}${parts ? ` (${parts})` : ''}: training stopped; ` +
              (path ? `the last good state is saved in ${path}` : 'no checkpoint was written (no output folder)'),
            this.step,
            path,
          );
        }
        const clipped = c.clipGradNorm !== null ? clipByGlobalNorm(grads, c.clipGradNorm) : null;
        const hyper = { lr: lr(this.step), weightDecay: wd(this.step) };
        this.optimizer.step(clipped ? clipped.grads : grads, hyper);
        if (clipped) metricValues.gradNorm = (await clipped.norm.data())[0]!;
        tf.dispose([...Object.values(grads), ...(clipped ? [...Object.values(clipped.grads), clipped.norm] : [])]);
        tf.tidy(() => {
          this.objective.afterStep?.(info, this.rng);
          const momentum = this.objective.momentumPairs?.();
          if (momentum) updateMomentumPairs(momentum, info);
        });
        losses.push(loss);
        this.step++;
        const stepSeconds = (now() - stepStart) / 1000;
        trainSeconds += stepSeconds;
        if (this.step - startStep > WARMUP_STEPS) {
          calibrationSeconds += stepSeconds;
          calibrationSteps++;
        }
        windowImages += c.batchSize;

        if (
          this.budget.kind === 'time' &&
          this.step - startStep >= nextCalibration &&
          (this.totalSteps === null || elapsed() < RECALIBRATE_UNTIL * this.budget.seconds)
        ) {
          const perStep = calibrationSeconds / calibrationSteps;
          const first = this.totalSteps === null;
          this.totalSteps = Math.max(this.step + 1, this.step + Math.floor((this.budget.seconds - elapsed()) / perStep));
          this.reporter.message(`time budget: ${perStep.toFixed(2)} s/step measured, the run is ${first ? 'fixed' : 're-fixed'} at ${this.totalSteps} steps`);
          calibrationSeconds = 0;
          calibrationSteps = 0;
          nextCalibration *= 2;
        }
        const stepEnd = now();
        const record: StepRecord = {
          step: this.step - 1,
          totalSteps: this.totalSteps ?? total,
          epoch: item.epoch,
          loss,
          metrics: metricValues,
          lr: hyper.lr,
          weightDecay: hyper.weightDecay,
          imgPerSec: windowImages / Math.max(1e-9, (stepEnd - windowStart) / 1000),
          elapsedSeconds: elapsed(),
          etaSeconds: ((this.totalSteps ?? total) - this.step) * (trainSeconds / (this.step - startStep)),
        };
        // The run's last step (the planned count, or the time is up) always gets a k-NN point.
        const last = this.step === this.totalSteps || (this.budget.kind === 'time' && elapsed() >= this.budget.seconds);
        if (c.knnEvery > 0 && (this.step % c.knnEvery === 0 || last)) {
          const evalStart = now();
          record.knn = lastKnn = await this.onlineKnn();
          evalSeconds += (now() - evalStart) / 1000;
        }
        this.reporter.step(record);
        if (store) await store.appendMetrics(record as unknown as Record<string, unknown>);
        if (this.step % c.logEvery === 0 || record.knn !== undefined) {
          windowStart = now();
          windowImages = 0;
        }
        if (c.checkpointEvery > 0 && this.step % c.checkpointEvery === 0) await this.checkpoint(elapsed());
      }
      if (store) {
        const path = await this.checkpoint(elapsed());
        this.reporter.message(`checkpoint written: ${path}`);
      }
    } finally {
      if (handleSignals) for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
      this.reporter.close();
    }
    const elapsedSeconds = elapsed();
    this.elapsedBefore = elapsedSeconds; // a later run() (after a pause) continues the clock
    return {
      steps: this.step,
      totalSteps: this.totalSteps ?? this.step,
      losses,
      stoppedBy,
      ...(this.lastCheckpoint && { checkpoint: this.lastCheckpoint }),
      elapsedSeconds,
      ...(lastKnn !== undefined && { knn: lastKnn }),
    };
  }

  /** Frees the optimizer state (the objective is the caller's). */
  dispose(): void {
    this.optimizer.dispose();
    this.batcher.cancelPrefetch();
  }
}
