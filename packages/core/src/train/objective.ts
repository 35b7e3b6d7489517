// The contract between an SSL method and the trainer. A method is one object that declares its views
// (augmentation pipelines), its learnable parameter groups, every variable it checkpoints, the loss of
// a batch of views, its momentum (EMA) pairs, the work after each optimiser step (a queue, a codebook),
// and the backbone the evaluation harness reads. The trainer owns the loop, the optimiser, schedules
// (the momentum schedule included) and checkpoints.
import type * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import type { AugmentStepInput, ViewGeometrySample } from '../augment/pipeline.js';
import type { ParamTree, VariableTree } from '../nn/params.js';
import type { ParamGroup } from '../optim/adamw.js';
import type { Rng } from '../util/rng.js';
import type { VitConfig } from '../vit/config.js';
import type { MomentumPairs } from './momentum.js';

/** Where training stands; schedules inside a method (e.g. EMA momentum) read it. */
export interface StepInfo {
  /** 0-based optimiser step. */
  step: number;
  /** Planned number of steps of the whole run (fixed once the budget is known). */
  totalSteps: number;
  epoch: number;
}

export interface LossResult {
  /** The scalar that is differentiated. */
  loss: tf.Scalar;
  /** Named scalars for logging (e.g. the parts of the loss, a codebook's perplexity). */
  metrics?: Record<string, tf.Scalar>;
}

export interface Objective {
  readonly name: string;
  /** One augmentation pipeline per view; `loss` receives the views in this order. */
  readonly views: readonly (readonly AugmentStepInput[])[];
  /**
   * Optional: draws the crop and flip of every view (one ViewGeometrySample per view, in `views`'
   * order) when they must be drawn jointly, e.g. two crops that overlap (MaskCo); the views' crop and
   * flip steps then use these instead of drawing their own. Called before the pipelines, each step.
   */
  sampleViews?(batchSize: number, rng: Rng): ViewGeometrySample[];
  /** Parameter groups for AdamW (e.g. splitDecay of the learnable parameters, a head at a fixed lr). */
  paramGroups(): ParamGroup[];
  /**
   * Every variable the method owns, by unique name: learnable ones, frozen ones (a teacher, a
   * codebook). The trainer checkpoints and restores exactly these.
   */
  variables(): VariableTree;
  /**
   * The loss of a batch of views. Runs inside the trainer's gradient tape and tf.tidy: return new
   * tensors, keep nothing. `rng` is the run's generator (for masks), checkpointed by the trainer.
   * `geometry`: what each view's crop and flip steps used, per image (the trainer always passes it).
   */
  loss(views: tf.Tensor4D[], info: StepInfo, rng: Rng, geometry?: ViewGeometrySample[]): LossResult;
  /** After each optimiser step, before the momentum update (a queue or codebook update...). Runs inside tf.tidy. */
  afterStep?(info: StepInfo, rng: Rng): void;
  /** The EMA teachers and the students they follow; the trainer moves them after every step (see momentum.ts). */
  momentumPairs?(): MomentumPairs;
  /** The backbone the evaluation harness extracts features from (e.g. the teacher, or the student). */
  backbone(): { config: VitConfig; params: ParamTree };
  /**
   * Optional: what the method's student sees and predicts for a batch of raw images, without training
   * (the playground's See tab). The caller disposes the returned tensors.
   */
  maskedView?(images: tf.Tensor4D, rng: Rng): MaskedView;
  /** JSON state beyond variables (e.g. a ring-buffer pointer), saved in checkpoints. */
  getState?(): Record<string, unknown>;
  setState?(state: Record<string, unknown>): void;
  dispose(): void;
}

/** What a masked-prediction method sees and predicts for a batch (Objective.maskedView). */
export interface MaskedView {
  /** Per masking round (one for MAE and SimMIM, two for MOCA): a label and [B, K] visible token indices. */
  rounds: { label: string; visible: tf.Tensor2D }[];
  /** [B, H, W, C] in [0, 1]: visible patches as given, masked ones as the method predicts them (pixel methods). */
  reconstruction?: tf.Tensor4D;
  /** [B, N] int32: the codeword the teacher assigns each token (MOCA's targets), of `numWords`. */
  assignments?: { words: tf.Tensor2D; numWords: number };
}

/** What the trainer tells a method when creating it. */
export interface ObjectiveContext {
  /** [H, W, C] of the training images. */
  imageShape: [number, number, number];
  batchSize: number;
  /** For initialisation; the method may keep a fork of it. */
  rng: Rng;
}

/** A registered method: its config schema (with defaults), named presets, and a factory. */
export interface ObjectiveDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  /** One line: the paper and what the method predicts. */
  summary: string;
  /** Validates the method's config and fills defaults; cross-field rules refuse impossible values. */
  configSchema: S;
  /** Partial configs by name (e.g. `fashion-mnist`), merged under user settings. */
  presets: Record<string, Record<string, unknown>>;
  /** Trainer settings that go with a preset (lr, batch size...), merged under user settings. */
  trainerPresets?: Record<string, Record<string, unknown>>;
  /** Builds the method; may be async (e.g. to read the checkpoints it builds on). */
  create(config: z.output<S>, context: ObjectiveContext): Objective | Promise<Objective>;
}
