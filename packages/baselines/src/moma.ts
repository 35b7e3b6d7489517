// MOMA: "MOMA: Distill from Self-Supervised Teachers" (Yao, Desai & Palaniswami, arXiv 2302.02089,
// 2023). Only the abstract and a secondary summary could be read: no paper body and no official code
// (our notes on it decide the rest, below). What they fix: pre-trained MoCo and/or MAE models are frozen
// teachers; the teacher sees the original input and the student a heavily masked one; the student's
// *projected* representation is aligned with the teacher's *normalised* one; three set-ups: (1) MoCo
// teacher -> MAE-initialised student, (2) MAE teacher -> MoCo-initialised student, (3) both teachers ->
// a randomly initialised student. The rest follows the closest precedents (Feature Distillation's
// LayerNorm target and SmoothL1 loss, DMAE's visible-token distillation) as moma.md recommends:
//   one view per image (MAE's crop 0.2-1 + flip), the same pixels for teachers and student;
//   teacher(s): frozen ViTs run on every token; their final-LN tokens Y_T [B, 1+L, D_T] are
//     normalised per token by a LayerNorm without affine parameters (eps 1e-6);
//   student: random uniform masking, MAE-style dropping (only the K = max(2, floor(L (1 - r))) visible
//     tokens and CLS enter the encoder) -> final-LN tokens Z_S [B, 1+K, D_S];
//   one lightweight projector per teacher: a per-token Linear(D_S -> D_T) with bias (kept when
//     D_S = D_T: the student side is "projected");
//   loss: L = sum_T w_T * mean over tokens and channels of SmoothL1_beta=2(P_T(Z_S), LN0(Y_T)[idx]),
//     idx = [CLS, the student's visible positions] (`target`), w_T = 1; no EMA, queue or negatives.
// Unknowns and our choices (moma.md's [I]): the teacher layer and tokens (final LN; `target` 'cls',
// 'visible' or 'cls+visible', default the last); the normaliser (`targetNorm` 'layernorm', or 'l2');
// the projector (`projector` 'linear', or a 2-layer GELU 'mlp'); the loss (`loss` 'smooth-l1' with
// `smoothL1Beta` 2, or 'mse', or 'cosine' for l2 targets); the mask ratio ("extremely high": 0.9 by
// default, 0.75 for 7x7 tokens in the fashion-mnist preset); random uniform masks only (no block
// masks); the student's architecture (any width and depth; its patch grid and image size must be the
// teachers'); the optimiser and schedule (moma.md's AdamW 0.9/0.95, wd 0.05 with no decay on norms,
// biases and tokens, 10% warmup + cosine; its lr rule 1.5e-4 * batch / 256 replaced by the 1e-3 the
// other presets use for minutes-long runs); epochs and evaluation protocol (none readable).
//
// Teachers and the student's initialisation come from our checkpoints (`teachers[i].checkpoint`,
// `studentInit`: a checkpoint folder, a folder of them or a run folder, as loadCheckpoint takes). The
// method that wrote a checkpoint is rebuilt through the registry (it must be registered, as the CLI
// registers every shipped method) and its backbone() is what we take: MoCo v3's base (query) encoder
// without its projector, predictor and momentum copy; MAE's encoder with its final norm, without the
// decoder. Any registered method's checkpoint works (a MOMA student can teach in turn).
// Loading: create() is async; it reads each checkpoint through core's checkpoint reader (in Node,
// '@maskedssl/core/node' installs loadCheckpoint: format, SHA-256 and tensor list verified) and rebuilds
// its method with core's objectiveFromCheckpoint, as the CLI's eval does.
// No gradient into teachers: their variables are frozen copies (trainable = false, never in
// paramGroups()), and their forward runs off the gradient tape (core's noGrad, torch.no_grad()), with
// the fused inference ops: the teachers' variables never reach the tape (tf.grads gives them no entry,
// not a zero) and the tape keeps none of their activations.
// Variables: the teachers are NOT in variables(), so checkpoints hold the student, the projectors and
// their AdamW moments only. Saving the teachers would not make a checkpoint self-contained anyway:
// create() needs the teachers' checkpoints to know their methods and shapes before any value is
// restored; and teachers are often larger than the (compact) student and would be copied into every
// checkpoint of the run. What a checkpoint records instead (getState) is which teacher checkpoint
// folders and tensors (SHA-256) the run was trained with; when a restored run finds other teachers at
// the configured paths (e.g. a teacher run that went on training), loss() refuses to train, naming
// the path, while backbone() (evaluation, export) still works: the student needs no teacher. So a MOMA
// checkpoint is rebuilt (maskedssl eval, --resume) with its teachers' and student-init checkpoints
// still at their paths (the student-init values are read, then overwritten by the restored ones).
// Errors at create(): a missing or unreadable checkpoint, a teacher whose image size, channels or
// patch grid differ from the student's, a student-init backbone that differs from the configured
// student (shape fields and numHeads, eps): one line each, naming the config field, the path and the
// mismatch.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  backboneFields, checkBackboneOverrides, cloneAsFrozen, createVit, gatherTokens, gelu, gridSize, l2Normalize, linear, makeVariable, noGrad,
  numPatches, objectiveFromCheckpoint, param, parseOrThrow, randomTokenMask, readCheckpoint, simpleCropFlip, smoothL1, splitDecay, VitConfig,
  vitConfigForImages, vitForward, xavierUniform, type LossResult, type Objective, type ObjectiveContext, type ObjectiveDefinition,
  type ParamGroup, type ParamTree, type Rng, type StepInfo, type VariableTree,
} from '@maskedssl/core';

export const MomaTeacherConfig = z
  .object({
    /** A maskedssl checkpoint folder, a folder of them or a run folder (the newest checkpoint). */
    checkpoint: z.string().min(1),
    /** lambda_T: this teacher's weight in the summed loss. */
    weight: z.number().positive().default(1),
  })
  .strict();

export const MomaConfig = z
  .object({
    /** Frozen teachers: one for set-ups (1) and (2), a MoCo v3 and an MAE one for set-up (3). */
    teachers: z.array(MomaTeacherConfig).default([]),
    /** 'random' (our ViT init), or a checkpoint whose backbone initialises the student (its shapes must be the student's). */
    studentInit: z.string().min(1).default('random'),
    /** Student preset ("compact" students are allowed: any width and depth); image size and channels come from the data. */
    ...backboneFields('vit-small/16'),
    /** Fraction of patches the student does not see ("extremely high"; moma.md: 0.9 at 14x14 tokens, 0.75 at 7x7). */
    maskRatio: z.number().gt(0).lt(1).default(0.9),
    /** Tokens distilled: the class token, the student's visible patches, or both. */
    target: z.enum(['cls', 'visible', 'cls+visible']).default('cls+visible'),
    /** Per-token normalisation of the teacher's tokens: LayerNorm without affine (eps 1e-6), or unit L2 norm. */
    targetNorm: z.enum(['layernorm', 'l2']).default('layernorm'),
    /** Per-token projector of the student, one per teacher: Linear(D_S -> D_T), or Linear -> GELU -> Linear. */
    projector: z.enum(['linear', 'mlp']).default('linear'),
    /** Hidden width of the 'mlp' projector. */
    projectorHiddenDim: z.number().int().positive().default(2048),
    /** Distance between projected student and normalised teacher tokens, averaged over tokens and channels. */
    loss: z.enum(['smooth-l1', 'mse', 'cosine']).default('smooth-l1'),
    /** beta of the SmoothL1 loss (Feature Distillation's 2). */
    smoothL1Beta: z.number().positive().default(2),
    /** Smallest crop area fraction of the view (MAE's 0.2). */
    cropMinScale: z.number().gt(0).max(1).default(0.2),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.teachers.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['teachers'], message: 'MOMA needs at least one teacher checkpoint, e.g. [{"checkpoint": "runs/mocov3"}]' });
    }
    // The student's own rules (imageSize stands in for the data's until create()).
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
  });
export type MomaConfig = z.output<typeof MomaConfig>;
export type MomaConfigInput = z.input<typeof MomaConfig>;
export type MomaTarget = MomaConfig['target'];
export type MomaTargetNorm = MomaConfig['targetNorm'];
export type MomaLossKind = MomaConfig['loss'];

/** Validates a MOMA config and fills defaults; the error names every bad field. */
export function parseMomaConfig(input: unknown): MomaConfig {
  return parseOrThrow(MomaConfig, input, 'moma config');
}

/** Visible patches of the student for L patches at mask ratio r: max(2, floor(L (1 - r))), at most L. */
export function momaKeepCount(numTokens: number, maskRatio: number): number {
  return Math.min(numTokens, Math.max(2, Math.floor(numTokens * (1 - maskRatio))));
}

/** Per-token normalisation over the last axis: LayerNorm without affine (biased variance), or x / max(|x|, 1e-12). A new tensor. */
export function normalizeTokens(x: tf.Tensor, kind: MomaTargetNorm, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    if (kind === 'l2') return l2Normalize(x);
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  });
}

/**
 * The targets of one teacher: its final tokens [B, 1 + L, D] (CLS first) at the `target` positions
 * (CLS; the patches at `keep` [B, K], the student's visible positions, in keep order; or CLS then
 * those), normalised per token -> [B, T', D]. A new tensor.
 */
export function momaTargets(teacherTokens: tf.Tensor3D, keep: tf.Tensor2D, target: MomaTarget, norm: MomaTargetNorm): tf.Tensor3D {
  const [b, t, d] = teacherTokens.shape;
  return tf.tidy(() => {
    const parts: tf.Tensor3D[] = [];
    if (target !== 'visible') parts.push(tf.slice(teacherTokens, [0, 0, 0], [b, 1, d]));
    if (target !== 'cls') parts.push(gatherTokens(tf.slice(teacherTokens, [0, 1, 0], [b, t - 1, d]), keep));
    return normalizeTokens(parts.length === 1 ? parts[0]! : tf.concat(parts, 1), norm) as tf.Tensor3D;
  });
}

/** The student's tokens [B, 1 + K, D] (CLS, then the visible patches in keep order) at the `target` positions -> [B, T', D]. */
export function momaStudentTokens(studentTokens: tf.Tensor3D, target: MomaTarget): tf.Tensor3D {
  const [b, t, d] = studentTokens.shape;
  if (target === 'cls+visible') return studentTokens.clone();
  return target === 'cls' ? tf.slice(studentTokens, [0, 0, 0], [b, 1, d]) : tf.slice(studentTokens, [0, 1, 0], [b, t - 1, d]);
}

/**
 * Distance between predictions and targets [..., D], a new scalar: 'smooth-l1' is torch's
 * SmoothL1Loss(beta) (0.5 d^2 / beta where |d| < beta, else |d| - beta / 2) and 'mse' the squared
 * error, both averaged over every element; 'cosine' is 1 - cos(pred, target) averaged over tokens.
 */
export function distillLoss(pred: tf.Tensor, target: tf.Tensor, kind: MomaLossKind, beta = 2): tf.Scalar {
  if (pred.shape.join() !== target.shape.join()) throw new Error(`distillLoss: pred [${pred.shape}] and target [${target.shape}] differ`);
  return tf.tidy(() => {
    if (kind === 'cosine') return tf.sub(1, tf.mean(tf.sum(tf.mul(normalizeTokens(pred, 'l2'), normalizeTokens(target, 'l2')), -1))) as tf.Scalar;
    if (kind === 'mse') return tf.mean(tf.square(tf.sub(pred, target))) as tf.Scalar;
    return smoothL1(pred, target, beta);
  });
}

// ---- Checkpoints (see the header) ----

/** Where a backbone came from: what getState records. */
export interface CheckpointSource {
  /** The method that wrote it (e.g. 'mocov3'). */
  method: string;
  /** The checkpoint folder read (a run folder resolves to its newest checkpoint). */
  checkpoint: string;
  tensorsSha256: string;
}

/** A checkpoint's method rebuilt with its trained values: its backbone, and the objective to dispose. */
interface LoadedBackbone {
  source: CheckpointSource;
  config: VitConfig;
  params: ParamTree;
  dispose(): void;
}

/** Reads the checkpoint at `path` and rebuilds its method; errors read `moma: <field> <path>: ...`. */
async function loadBackbone(path: string, field: string): Promise<LoadedBackbone> {
  try {
    const ckpt = await readCheckpoint(path);
    const { objective, run } = await objectiveFromCheckpoint(ckpt);
    const { config, params } = objective.backbone();
    return { source: { method: run.method, checkpoint: ckpt.path, tensorsSha256: ckpt.tensorsSha256 ?? '' }, config, params, dispose: () => objective.dispose() };
  } catch (e) {
    throw new Error(`moma: ${field} ${path}: ${(e as Error).message.replace(/^checkpoint \S+: /, '')}`);
  }
}

const describeGrid = (c: VitConfig) => `${c.imageSize}x${c.imageSize}x${c.inChannels} images as ${gridSize(c)}x${gridSize(c)} patches of ${c.patchSize}x${c.patchSize}`;

/** A frozen teacher: its backbone's config and frozen copies of its parameters (timm names). */
export interface MomaTeacher extends CheckpointSource {
  weight: number;
  config: VitConfig;
  params: VariableTree;
}

export class MomaObjective implements Objective {
  readonly name = 'moma';
  readonly views;
  /** The student's ViT. */
  readonly vit: VitConfig;
  /** The student's parameters (timm names): what backbone() returns. */
  readonly student: VariableTree;
  /** Where the student's initial values came from (null: random). */
  readonly studentInit: CheckpointSource | null = null;
  readonly teachers: MomaTeacher[] = [];
  /** One per teacher: `projectors.<i>.{weight,bias}` ('linear') or `projectors.<i>.fc{1,2}.{weight,bias}` ('mlp'). */
  readonly projectors: VariableTree[] = [];
  /** L patches, of which the student sees K. */
  readonly numPatches: number;
  readonly keepCount: number;
  /** Set by setState when the configured teachers are not those the restored run was trained with. */
  private staleTeachers: string | null = null;

  /** Use `moma.create` (it loads the teacher and student-init checkpoints); the loaded backbones are copied, not kept. */
  constructor(
    readonly config: MomaConfig,
    context: ObjectiveContext,
    loaded: { teachers: LoadedBackbone[]; studentInit: LoadedBackbone | null },
  ) {
    const c = config;
    if (c.teachers.length === 0) throw new Error('moma: teachers: MOMA needs at least one teacher checkpoint');
    this.vit = vitConfigForImages(c.backbone, c.backboneOverrides, context.imageShape, 'moma');
    this.numPatches = numPatches(this.vit);
    this.keepCount = momaKeepCount(this.numPatches, c.maskRatio);
    if (this.keepCount >= this.numPatches) throw new Error(`moma: maskRatio ${c.maskRatio} masks no patch of ${this.numPatches}`);
    this.views = [simpleCropFlip({ channels: context.imageShape[2], scale: [c.cropMinScale, 1] })] as const;
    this.student = createVit(this.vit, context.rng, 'moma-student').params;
    try {
      c.teachers.forEach((t, i) => {
        const field = `teachers[${i}].checkpoint`;
        const { source, config: vit, params } = loaded.teachers[i]!;
        if (vit.imageSize !== this.vit.imageSize || vit.inChannels !== this.vit.inChannels || vit.patchSize !== this.vit.patchSize) {
          throw new Error(`moma: ${field} ${t.checkpoint}: its ${source.method} backbone takes ${describeGrid(vit)}, the student ${describeGrid(this.vit)}`);
        }
        if (!vit.classToken) throw new Error(`moma: ${field} ${t.checkpoint}: its ${source.method} backbone has no class token`);
        this.teachers.push({ ...source, weight: t.weight, config: vit, params: cloneAsFrozen(`moma-teacher${i}`, params) });
      });
      if (loaded.studentInit) this.studentInit = this.initStudent(loaded.studentInit.source, loaded.studentInit.config, loaded.studentInit.params);
      this.teachers.forEach((t, i) => this.projectors.push(this.createProjector(i, t.config.embedDim, context.rng)));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Copies a checkpoint's backbone into the student, refusing one that is not the student's architecture. */
  private initStudent(source: CheckpointSource, vit: VitConfig, params: ParamTree): CheckpointSource {
    const keys = ['imageSize', 'inChannels', 'patchSize', 'embedDim', 'depth', 'numHeads', 'mlpRatio', 'classToken', 'layerNormEps'] as const;
    const diff = keys.filter((k) => vit[k] !== this.vit[k]).map((k) => `${k} ${vit[k]} there, ${this.vit[k]} here`);
    if (diff.length > 0) {
      throw new Error(`moma: studentInit ${this.config.studentInit}: its ${source.method} backbone is not the student's (${diff.join('; ')}); set backbone/backboneOverrides to match it`);
    }
    tf.tidy(() => {
      for (const [name, v] of Object.entries(this.student)) v.assign(param(params, name));
    });
    return source;
  }

  private createProjector(i: number, outDim: number, rng: Rng): VariableTree {
    const d = this.vit.embedDim;
    const mk = (name: string, shape: number[], values: Float32Array | 'zeros') => makeVariable('moma', `projectors.${i}.${name}`, shape, values);
    if (this.config.projector === 'linear') {
      return { [`projectors.${i}.weight`]: mk('weight', [d, outDim], xavierUniform(rng, d, outDim)), [`projectors.${i}.bias`]: mk('bias', [outDim], 'zeros') };
    }
    const h = this.config.projectorHiddenDim;
    return {
      [`projectors.${i}.fc1.weight`]: mk('fc1.weight', [d, h], xavierUniform(rng, d, h)),
      [`projectors.${i}.fc1.bias`]: mk('fc1.bias', [h], 'zeros'),
      [`projectors.${i}.fc2.weight`]: mk('fc2.weight', [h, outDim], xavierUniform(rng, h, outDim)),
      [`projectors.${i}.fc2.bias`]: mk('fc2.bias', [outDim], 'zeros'),
    };
  }

  /** Teacher i's projector on student tokens [B, T, D_S] -> [B, T, D_T]. */
  project(i: number, tokens: tf.Tensor3D): tf.Tensor3D {
    const p = this.projectors[i]!;
    const pre = `projectors.${i}`;
    return tf.tidy(() => {
      if (this.config.projector === 'linear') return linear(tokens, param(p, `${pre}.weight`), param(p, `${pre}.bias`)) as tf.Tensor3D;
      const hidden = gelu(linear(tokens, param(p, `${pre}.fc1.weight`), param(p, `${pre}.fc1.bias`)));
      return linear(hidden, param(p, `${pre}.fc2.weight`), param(p, `${pre}.fc2.bias`)) as tf.Tensor3D;
    });
  }

  /** Teacher i's normalised targets [B, T', D_T] of a view at the student's visible positions `keep`, with no gradient. */
  teacherTargets(i: number, view: tf.Tensor4D, keep: tf.Tensor2D): tf.Tensor3D {
    const t = this.teachers[i]!;
    return noGrad(() => momaTargets(vitForward(t.config, t.params, view, { inference: true }).tokens, keep, this.config.target, this.config.targetNorm));
  }

  /**
   * The loss of a view given the student's visible patches `keep` [B, K] int32: sum over teachers of
   * weight * distillLoss(projected student tokens, normalised teacher tokens), with each teacher's
   * unweighted loss as metric `teacher<i>Loss`.
   */
  distill(view: tf.Tensor4D, keep: tf.Tensor2D): LossResult & { metrics: Record<string, tf.Scalar> } {
    if (keep.shape[0] !== view.shape[0] || keep.shape[1] < 1) throw new Error(`moma: keep [${keep.shape}] for a batch of ${view.shape[0]}`);
    const c = this.config;
    const z = momaStudentTokens(vitForward(this.vit, this.student, view, { keep }).tokens, c.target);
    const metrics: Record<string, tf.Scalar> = {};
    let loss: tf.Scalar | null = null;
    for (const [i, t] of this.teachers.entries()) {
      const l = distillLoss(this.project(i, z), this.teacherTargets(i, view, keep), c.loss, c.smoothL1Beta);
      metrics[`teacher${i}Loss`] = l;
      const weighted = t.weight === 1 ? l : (tf.mul(l, t.weight) as tf.Scalar);
      loss = loss ? (tf.add(loss, weighted) as tf.Scalar) : weighted;
    }
    return { loss: loss!, metrics };
  }

  paramGroups(): ParamGroup[] {
    return splitDecay(this.variables());
  }

  /** The student (timm names) and the projectors; the teachers are not saved (see the header). */
  variables(): VariableTree {
    return Object.assign({}, this.student, ...this.projectors) as VariableTree;
  }

  loss(views: tf.Tensor4D[], _info: StepInfo, rng: Rng): LossResult {
    if (views.length !== 1) throw new Error(`moma: loss expects 1 view, got ${views.length}`);
    if (this.staleTeachers) throw new Error(this.staleTeachers);
    const view = views[0]!;
    const m = randomTokenMask(rng, view.shape[0], this.numPatches, { numMasked: this.numPatches - this.keepCount });
    return this.distill(view, m.keep);
  }

  /** The student, the network MOMA trains and evaluates. */
  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.student };
  }

  /** The teacher (and student-init) checkpoints this run uses; checked again by setState. */
  getState(): Record<string, unknown> {
    const src = ({ method, checkpoint, tensorsSha256 }: CheckpointSource) => ({ method, checkpoint, tensorsSha256 });
    return { teachers: this.teachers.map(src), studentInit: this.studentInit ? src(this.studentInit) : 'random' };
  }

  /** On restore: if the configured paths now hold other teachers, training refuses (loss throws); evaluation still works. */
  setState(state: Record<string, unknown>): void {
    const saved = z.array(z.object({ checkpoint: z.string(), tensorsSha256: z.string() }).passthrough()).safeParse(state.teachers);
    if (!saved.success) return;
    this.staleTeachers = null;
    if (saved.data.length !== this.teachers.length) {
      this.staleTeachers = `moma: teachers: the run was trained with ${saved.data.length} teacher(s), the config has ${this.teachers.length}`;
      return;
    }
    saved.data.forEach((s, i) => {
      const t = this.teachers[i]!;
      if (!this.staleTeachers && s.tensorsSha256 !== t.tensorsSha256) {
        this.staleTeachers =
          `moma: teachers[${i}].checkpoint ${this.config.teachers[i]!.checkpoint}: it now gives ${t.checkpoint} (tensors ${t.tensorsSha256.slice(0, 12)}), ` +
          `not ${s.checkpoint} (${s.tensorsSha256.slice(0, 12)}) that this run was trained with; point it at that checkpoint to go on training`;
      }
    });
  }

  dispose(): void {
    tf.dispose([...Object.values(this.student), ...this.projectors.flatMap((p) => Object.values(p)), ...this.teachers.flatMap((t) => Object.values(t.params))]);
  }
}

export const moma = {
  name: 'moma',
  summary: 'MOMA (Yao et al. 2023): a masked student regresses the normalised tokens of frozen MoCo v3 / MAE teachers through per-teacher projectors',
  configSchema: MomaConfig,
  presets: {
    // 28x28x1, 7x7 tokens (vit-mini/4), 12 of 49 patches visible. Set-up (3)
    // with the run folders `maskedssl pretrain --method mocov3|mae --out runs/<method>` writes; for
    // set-up (1): --set 'method.teachers=[{"checkpoint":"runs/mocov3"}]' --set method.studentInit=runs/mae.
    'fashion-mnist': { backbone: 'vit-mini/4', maskRatio: 0.75, teachers: [{ checkpoint: 'runs/mocov3' }, { checkpoint: 'runs/mae' }], studentInit: 'random' },
  },
  // moma.md's AdamW (0.9/0.95, wd 0.05, 10% warmup + cosine) at the lr and batch of the MAE preset
  // (the 1.5e-4 * batch / 256 rule is tuned for hundreds of epochs).
  trainerPresets: { 'fashion-mnist': { batchSize: 64, lr: 1e-3, minLr: 1e-5, warmup: 0.1, weightDecay: 0.05, betas: [0.9, 0.95] } },
  async create(config, context) {
    if (config.teachers.length === 0) throw new Error('moma: teachers: MOMA needs at least one teacher checkpoint');
    const teachers: LoadedBackbone[] = [];
    let studentInit: LoadedBackbone | null = null;
    try {
      for (const [i, t] of config.teachers.entries()) teachers.push(await loadBackbone(t.checkpoint, `teachers[${i}].checkpoint`));
      if (config.studentInit !== 'random') studentInit = await loadBackbone(config.studentInit, 'studentInit');
      return new MomaObjective(config, context, { teachers, studentInit });
    } finally {
      for (const b of [...teachers, ...(studentInit ? [studentInit] : [])]) b.dispose();
    }
  },
} satisfies ObjectiveDefinition<typeof MomaConfig>;
