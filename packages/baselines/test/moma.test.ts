import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileRunStore,
  initBackend, loadCheckpoint, memoryReporter, loadObjective, parseTrainerConfig, proceduralDataset, registerObjective, Rng,
  randomTokenMask, saveCheckpoint, Trainer, valueAndGrads, vitForward, vitParamShapes, type ObjectiveDefinition, type ParamTree, type TrainerConfigInput,
} from '@maskedssl/core/node';
import { mae } from '../src/mae.js';
import { mocov3 } from '../src/mocov3.js';
import {
  distillLoss, moma, momaKeepCount, momaStudentTokens, momaTargets, normalizeTokens, parseMomaConfig,
  type MomaConfigInput,
} from '../src/moma.js';
import { expectNoTensorLeak } from './trainer-checks.js';

await initBackend({ log: null });
// Teachers and student inits are rebuilt through the registry, as the CLI does with every method.
for (const def of [mae, mocov3, moma] as ObjectiveDefinition[]) registerObjective(def);

const value = (t: tf.Tensor) => t.dataSync()[0]!;
const values = (t: tf.Tensor) => Array.from(t.dataSync());
const tmp = (what: string) => mkdtemp(join(tmpdir(), `maskedssl-moma-${what}-`));
const dataset = proceduralDataset({ count: 96, seed: 1, size: 16 });

/** Tiny teachers for 16x16x1 images (4x4 patches of 4x4 pixels) of different widths: MAE 24, MoCo v3 32. */
const tinyMae = { backbone: 'vit-tiny/4', backboneOverrides: { embedDim: 24, depth: 2, numHeads: 2 }, decoderEmbedDim: 16, decoderDepth: 1, decoderNumHeads: 2 };
const tinyMoco = { backbone: 'vit-tiny/4', backboneOverrides: { embedDim: 32, depth: 2, numHeads: 2 }, projectorHiddenDim: 32, predictorHiddenDim: 32, outDim: 16 };
const maeShaped = { backbone: 'vit-tiny/4', backboneOverrides: tinyMae.backboneOverrides } as const;
const mocoShaped = { backbone: 'vit-tiny/4', backboneOverrides: tinyMoco.backboneOverrides } as const;

/** Trains `def` for a few steps through the Trainer into a run folder, as `maskedssl pretrain` does. */
async function trainedRun(def: ObjectiveDefinition, configInput: Record<string, unknown>, steps: number): Promise<string> {
  const dir = await tmp(def.name);
  const methodConfig = def.configSchema.parse(configInput) as Record<string, unknown>;
  const imageShape: [number, number, number] = [16, 16, 1];
  const objective = await def.create(methodConfig, { imageShape, batchSize: 8, rng: new Rng(11) });
  const trainer = new Trainer({
    objective,
    method: def.name,
    config: parseTrainerConfig({ batchSize: 8, budget: `${steps}steps`, lr: 2e-3 }),
    dataset,
    store: fileRunStore(dir),
    runInfo: { method: def.name, methodConfig, imageShape, batchSize: 8 },
    reporter: memoryReporter(),
    handleSignals: false,
  });
  await trainer.run();
  trainer.dispose();
  objective.dispose();
  return dir;
}

/** An untrained run's checkpoint written directly through core's checkpoint API. */
async function writtenRun(def: ObjectiveDefinition, configInput: Record<string, unknown>, imageShape: [number, number, number]): Promise<string> {
  const dir = await tmp(`${def.name}-${imageShape[0]}`);
  const methodConfig = def.configSchema.parse(configInput) as Record<string, unknown>;
  const objective = await def.create(methodConfig, { imageShape, batchSize: 4, rng: new Rng(3) });
  const tensors = Object.fromEntries(Object.entries(objective.variables()).map(([k, v]) => [`var/${k}`, v as tf.Tensor]));
  await saveCheckpoint(join(dir, 'checkpoints'), 0, tensors, { run: { method: def.name, methodConfig, imageShape, batchSize: 4 } });
  objective.dispose();
  return dir;
}

/** Backbone values of a checkpoint, read back through core's own (async) loadObjective. */
async function backboneOf(path: string): Promise<Record<string, number[]>> {
  const { objective } = await loadObjective(path);
  const out = Object.fromEntries(Object.entries(objective.backbone().params).map(([k, v]) => [k, values(v)]));
  objective.dispose();
  return out;
}
const snapshot = (params: ParamTree) => Object.fromEntries(Object.entries(params).map(([k, v]) => [k, values(v)]));

/** Plain-JS LayerNorm without affine (biased variance, eps 1e-6) of one row. */
function ln0(row: number[]): number[] {
  const mean = row.reduce((a, b) => a + b, 0) / row.length;
  const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
  return row.map((v) => (v - mean) / Math.sqrt(variance + 1e-6));
}

describe('MOMA loss pieces', () => {
  const b = 2;
  const n = 9; // a 3x3 patch grid
  const d = 6;
  const teacher = tf.tensor3d(new Rng(1).normalArray(b * (1 + n) * d, 0.5, 2), [b, 1 + n, d]);
  const keepRows = [[0, 4, 7], [2, 3, 8]];
  const keep = tf.tensor2d(keepRows, [2, 3], 'int32');

  it('momaTargets: CLS then the visible patches in keep order (token = patch + 1), each normalised by LayerNorm without affine', () => {
    const y = teacher.arraySync();
    const got = momaTargets(teacher, keep, 'cls+visible', 'layernorm');
    expect(got.shape).toEqual([b, 4, d]);
    const g = got.arraySync();
    for (let s = 0; s < b; s++) {
      const rows = [0, ...keepRows[s]!.map((p) => p + 1)].map((t) => ln0(y[s]![t]!));
      rows.forEach((row, i) => row.forEach((v, c) => expect(g[s]![i]![c]!).toBeCloseTo(v, 4)));
    }
    expect(momaTargets(teacher, keep, 'cls', 'layernorm').shape).toEqual([b, 1, d]);
    expect(values(momaTargets(teacher, keep, 'visible', 'layernorm'))).toEqual(values(tf.slice(got, [0, 1, 0], [b, 3, d])));
    // 'l2': unit rows in the same direction as the raw tokens.
    const l2 = momaTargets(teacher, keep, 'cls', 'l2').arraySync();
    for (let s = 0; s < b; s++) {
      const raw = y[s]![0]!;
      const norm = Math.hypot(...raw);
      raw.forEach((v, c) => expect(l2[s]![0]![c]!).toBeCloseTo(v / norm, 5));
    }
  });

  it('momaStudentTokens keeps CLS, the visible tokens, or both', () => {
    const z = tf.tensor3d(new Rng(2).normalArray(b * 4 * 5), [b, 4, 5]);
    expect(values(momaStudentTokens(z, 'cls+visible'))).toEqual(values(z));
    expect(values(momaStudentTokens(z, 'cls'))).toEqual(values(tf.slice(z, [0, 0, 0], [b, 1, 5])));
    expect(values(momaStudentTokens(z, 'visible'))).toEqual(values(tf.slice(z, [0, 1, 0], [b, 3, 5])));
  });

  it('is zero when the projected student equals the normalised teacher target, and SmoothL1(beta 2) by hand otherwise', () => {
    const target = momaTargets(teacher, keep, 'cls+visible', 'layernorm');
    expect(value(distillLoss(target.clone(), target, 'smooth-l1', 2))).toBe(0);
    // The same target built in plain JS (float64 LN, then float32): zero up to rounding.
    const y = teacher.arraySync();
    const byHand = tf.tensor3d(keepRows.map((r, s) => [0, ...r.map((p) => p + 1)].map((t) => ln0(y[s]![t]!))));
    expect(value(distillLoss(byHand, target, 'smooth-l1', 2))).toBeCloseTo(0, 10);
    // Offsets 1, 3 and -0.5 on three of the 48 elements: 0.5 * 1 / 2 + (3 - 1) + 0.5 * 0.25 / 2.
    const offsets = new Float32Array(b * 4 * d);
    offsets[0] = 1;
    offsets[17] = 3;
    offsets[40] = -0.5;
    const pred = tf.add(target, tf.tensor3d(offsets, [b, 4, d]));
    expect(value(distillLoss(pred, target, 'smooth-l1', 2))).toBeCloseTo((0.25 + 2 + 0.0625) / 48, 6);
    expect(value(distillLoss(pred, target, 'smooth-l1', 1))).toBeCloseTo((0.5 + 2.5 + 0.125) / 48, 6);
    expect(value(distillLoss(pred, target, 'mse', 2))).toBeCloseTo((1 + 9 + 0.25) / 48, 6);
    // Cosine: 1 - cos per token; a token scaled by 3 scores 0, one flipped scores 2.
    const t2 = tf.tensor3d([[[1, 0], [0, 1]]]);
    expect(value(distillLoss(tf.tensor3d([[[3, 0], [0, -1]]]), t2, 'cosine'))).toBeCloseTo(1, 6);
    expect(() => distillLoss(tf.zeros([1, 2, 3]), tf.zeros([1, 3, 3]), 'mse')).toThrow(/pred \[1,2,3\] and target \[1,3,3\] differ/);
  });

  it('masked-out teacher tokens do not enter the loss; visible ones and CLS do', () => {
    const pred = tf.tensor3d(new Rng(3).normalArray(b * 4 * d), [b, 4, d]);
    const lossWith = (y: tf.Tensor3D) => value(distillLoss(pred, momaTargets(y, keep, 'cls+visible', 'layernorm'), 'smooth-l1', 2));
    const base = lossWith(teacher);
    const bump = (sample: number, token: number) => {
      const m = new Float32Array(b * (1 + n) * d);
      m.fill(50, (sample * (1 + n) + token) * d, (sample * (1 + n) + token + 1) * d - 2); // not a constant row: LN keeps it
      return tf.add(teacher, tf.tensor3d(m, [b, 1 + n, d])) as tf.Tensor3D;
    };
    // Patch 1 of sample 0 and patch 0 of sample 1 are masked (tokens 2 and 1).
    expect(lossWith(bump(0, 2))).toBe(base);
    expect(lossWith(bump(1, 1))).toBe(base);
    // Patch 4 of sample 0 is visible (token 5); CLS is token 0.
    expect(Math.abs(lossWith(bump(0, 5)) - base)).toBeGreaterThan(1e-3);
    expect(Math.abs(lossWith(bump(1, 0)) - base)).toBeGreaterThan(1e-3);
  });

  it('normalizeTokens: zero mean, unit variance per token (layernorm); unit length (l2)', () => {
    const x = tf.tensor2d([[1, 2, 3, 6], [-2, 0, 0, 2]]);
    const ln = normalizeTokens(x, 'layernorm').arraySync() as number[][];
    for (const row of ln) {
      expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(0, 5);
      expect(row.reduce((a, v) => a + v * v, 0) / 4).toBeCloseTo(1, 4);
    }
    (normalizeTokens(x, 'l2').arraySync() as number[][]).forEach((row) => expect(Math.hypot(...row)).toBeCloseTo(1, 6));
  });

  it('keeps max(2, floor(L (1 - r))) patches visible', () => {
    expect(momaKeepCount(49, 0.75)).toBe(12);
    expect(momaKeepCount(196, 0.9)).toBe(19);
    expect(momaKeepCount(16, 0.9)).toBe(2);
    expect(momaKeepCount(16, 0.99)).toBe(2);
    expect(momaKeepCount(16, 0.5)).toBe(8);
  });

});

describe('MOMA config', () => {
  it('has our defaults, and presets that validate', () => {
    const c = parseMomaConfig({ teachers: [{ checkpoint: 'runs/mocov3' }] });
    expect(c).toMatchObject({
      teachers: [{ checkpoint: 'runs/mocov3', weight: 1 }], studentInit: 'random', backbone: 'vit-small/16', maskRatio: 0.9, target: 'cls+visible',
      targetNorm: 'layernorm', projector: 'linear', loss: 'smooth-l1', smoothL1Beta: 2, cropMinScale: 0.2,
    });
    expect(parseMomaConfig(moma.presets['fashion-mnist'])).toMatchObject({ backbone: 'vit-mini/4', maskRatio: 0.75, teachers: [{ checkpoint: 'runs/mocov3' }, { checkpoint: 'runs/mae' }] });
    expect(parseTrainerConfig(moma.trainerPresets!['fashion-mnist'])).toMatchObject({ batchSize: 64, lr: 1e-3, warmup: 0.1, weightDecay: 0.05, betas: [0.9, 0.95] });
    expect(parseTrainerConfig(moma.trainerPresets!['fashion-mnist']).batchSize).toBe(parseTrainerConfig(mae.trainerPresets!['fashion-mnist']).batchSize);
  });

  it('refuses bad configs naming the field', () => {
    const t = [{ checkpoint: 'x' }];
    expect(() => parseMomaConfig({})).toThrow(/teachers: MOMA needs at least one teacher checkpoint/);
    expect(() => parseMomaConfig({ teachers: [] })).toThrow(/teachers: /);
    expect(() => parseMomaConfig({ teachers: [{ checkpoint: '' }] })).toThrow(/teachers\[0\]\.checkpoint: /);
    expect(() => parseMomaConfig({ teachers: [{ checkpoint: 'x', weight: 0 }] })).toThrow(/teachers\[0\]\.weight: /);
    expect(() => parseMomaConfig({ teachers: [{ checkpoint: 'x', wieght: 2 }] })).toThrow(/wieght/);
    expect(() => parseMomaConfig({ teachers: t, maskRatio: 1 })).toThrow(/maskRatio: /);
    expect(() => parseMomaConfig({ teachers: t, target: 'patches' })).toThrow(/target: /);
    expect(() => parseMomaConfig({ teachers: t, targetNorm: 'batchnorm' })).toThrow(/targetNorm: /);
    expect(() => parseMomaConfig({ teachers: t, loss: 'l1' })).toThrow(/loss: /);
    expect(() => parseMomaConfig({ teachers: t, smoothL1Beta: 0 })).toThrow(/smoothL1Beta: /);
    expect(() => parseMomaConfig({ teachers: t, studentInit: '' })).toThrow(/studentInit: /);
    expect(() => parseMomaConfig({ teachers: t, backbone: 'vit-tiny/4', backboneOverrides: { numHeads: 5 } })).toThrow(/backboneOverrides.numHeads: embedDim 192 is not divisible/);
    expect(() => parseMomaConfig({ teachers: t, teacher: 'x' })).toThrow(/teacher/);
  });
});

describe('MOMA with teachers from checkpoints', () => {
  let maeRun: string;
  let mocoRun: string;
  beforeAll(async () => {
    maeRun = await trainedRun(mae, tinyMae, 2);
    mocoRun = await trainedRun(mocov3, tinyMoco, 2);
  });
  const ctx = (batchSize = 8) => ({ imageShape: [16, 16, 1] as [number, number, number], batchSize, rng: new Rng(42) });
  /** Set-ups (1) MoCo -> MAE-initialised student, (2) MAE -> MoCo-initialised, (3) both -> random (a 40-wide student). */
  const setups = (): Record<string, MomaConfigInput> => ({
    '(1) mocov3 -> mae-initialised student': { ...maeShaped, teachers: [{ checkpoint: mocoRun }], studentInit: maeRun, maskRatio: 0.75 },
    '(2) mae -> mocov3-initialised student': { ...mocoShaped, teachers: [{ checkpoint: maeRun }], studentInit: mocoRun, maskRatio: 0.75 },
    '(3) mocov3 + mae -> random student': {
      backbone: 'vit-tiny/4', backboneOverrides: { embedDim: 40, depth: 1, numHeads: 2 }, teachers: [{ checkpoint: mocoRun }, { checkpoint: maeRun }], maskRatio: 0.75,
    },
  });
  const build = (c: MomaConfigInput, batchSize = 8) => moma.create(parseMomaConfig(c), ctx(batchSize));
  const keepOf = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

  it('(1) loads the MoCo v3 base encoder as a frozen teacher and copies the MAE encoder into the student', async () => {
    const objective = await build(setups()['(1) mocov3 -> mae-initialised student']!);
    const teacher = objective.teachers[0]!;
    expect(teacher.method).toBe('mocov3');
    expect(teacher.checkpoint).toMatch(/step-00000002$/);
    expect(teacher.config).toMatchObject({ imageSize: 16, patchSize: 4, embedDim: 32, depth: 2 });
    expect(snapshot(teacher.params)).toEqual(await backboneOf(mocoRun));
    expect(Object.values(teacher.params).every((v) => !v.trainable)).toBe(true);
    // The student starts as the MAE checkpoint's encoder, every parameter of it.
    const student = objective.backbone();
    expect(Object.keys(student.params).sort()).toEqual(Object.keys(vitParamShapes(student.config)).sort());
    expect(snapshot(student.params)).toEqual(await backboneOf(maeRun));
    expect(objective.studentInit).toMatchObject({ method: 'mae' });
    // ...which differs from a random student of the same shape.
    const random = await build({ ...setups()['(1) mocov3 -> mae-initialised student']!, studentInit: 'random' });
    expect(values(random.student['blocks.1.mlp.fc1.weight']!)).not.toEqual(values(student.params['blocks.1.mlp.fc1.weight']!));
    // One projector 24 -> 32; teachers are in neither variables() nor the AdamW groups.
    const vars = objective.variables();
    expect(vars['projectors.0.weight']!.shape).toEqual([24, 32]);
    expect(vars['projectors.0.bias']!.shape).toEqual([32]);
    const teacherVars = new Set(Object.values(teacher.params));
    expect(Object.values(vars).some((v) => teacherVars.has(v))).toBe(false);
    const grouped = objective.paramGroups().flatMap((g) => Object.values(g.params));
    expect(grouped.some((v) => teacherVars.has(v))).toBe(false);
    expect(grouped).toContain(vars['projectors.0.weight']);
    expect(Object.keys(vars).filter((k) => !vars[k]!.trainable)).toEqual(['pos_embed']);
    random.dispose();
    objective.dispose();
  });

  it('(2) loads the MAE encoder as the teacher and copies the MoCo v3 base encoder into the student', async () => {
    const objective = await build(setups()['(2) mae -> mocov3-initialised student']!);
    expect(objective.teachers[0]!.method).toBe('mae');
    expect(snapshot(objective.teachers[0]!.params)).toEqual(await backboneOf(maeRun));
    expect(snapshot(objective.student)).toEqual(await backboneOf(mocoRun));
    expect(objective.variables()['projectors.0.weight']!.shape).toEqual([32, 24]);
    objective.dispose();
  });

  it('(3) sums the weighted losses of both teachers through two projectors', async () => {
    const objective = await build({ ...setups()['(3) mocov3 + mae -> random student']!, teachers: [{ checkpoint: mocoRun }, { checkpoint: maeRun, weight: 2 }] });
    expect(objective.teachers.map((t) => t.method)).toEqual(['mocov3', 'mae']);
    expect(objective.studentInit).toBeNull();
    expect(objective.variables()['projectors.0.weight']!.shape).toEqual([40, 32]);
    expect(objective.variables()['projectors.1.weight']!.shape).toEqual([40, 24]);
    const view = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const { loss, metrics } = objective.distill(view, keepOf([[0, 5, 9, 15], [1, 2, 3, 4]]));
    const [l0, l1] = [value(metrics.teacher0Loss!), value(metrics.teacher1Loss!)];
    expect(l0).toBeGreaterThan(0);
    expect(l1).toBeGreaterThan(0);
    expect(value(loss)).toBeCloseTo(l0 + 2 * l1, 5);
    objective.dispose();
  });

  it('gathers teacher targets at the positions the student saw (CLS first), and the student sees CLS + K tokens', async () => {
    const objective = await build(setups()['(1) mocov3 -> mae-initialised student']!);
    expect(objective.keepCount).toBe(4); // 16 patches at 0.75
    const view = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 6) as tf.Tensor4D;
    const keepRows = [[0, 5, 9, 15], [3, 6, 10, 12]];
    const targets = objective.teacherTargets(0, view, keepOf(keepRows)).arraySync();
    const t = objective.teachers[0]!;
    const full = vitForward(t.config, t.params, view).tokens.arraySync();
    for (let s = 0; s < 2; s++) {
      const rows = [0, ...keepRows[s]!.map((p) => p + 1)].map((i) => ln0(full[s]![i]!));
      rows.forEach((row, i) => row.forEach((v, c) => expect(targets[s]![i]![c]!).toBeCloseTo(v, 3)));
    }
    expect(vitForward(objective.vit, objective.student, view, { keep: keepOf(keepRows) }).tokens.shape).toEqual([2, 5, 24]);
    // loss() draws its mask from the run's Rng and uses the same visible positions on both sides.
    const mask = randomTokenMask(new Rng(9), 2, 16, { numMasked: 12 });
    const viaLoss = value(objective.loss([view], { step: 0, totalSteps: 1, epoch: 0 }, new Rng(9)).loss);
    expect(viaLoss).toBe(value(objective.distill(view, mask.keep).loss));
    expect(viaLoss).not.toBe(value(objective.distill(view, keepOf([[1, 2, 3, 4], [5, 6, 7, 8]])).loss));
    objective.dispose();
  });

  it('sends gradients to the student and projectors only, none (not even zeros) to the teachers', async () => {
    const objective = await build(setups()['(3) mocov3 + mae -> random student']!);
    const view = tf.randomUniform([4, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const keep = keepOf([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]]);
    const loss = () => objective.distill(view, keep).loss;
    const vars = objective.variables();
    const { value: l, grads } = valueAndGrads(loss, vars);
    const trainable = Object.keys(vars).filter((k) => vars[k]!.trainable);
    expect(Object.keys(grads).sort()).toEqual(trainable.sort());
    for (const [name, g] of Object.entries(grads)) expect(value(tf.max(tf.abs(g))), name).toBeGreaterThan(0);
    tf.dispose([l, ...Object.values(grads)]);

    // Made trainable for a moment, the teachers are still not connected to the loss: no entry at all.
    const teacherVars = Object.fromEntries(objective.teachers.flatMap((t, i) => Object.entries(t.params).map(([k, v]) => [`teacher${i}.${k}`, v])));
    for (const v of Object.values(teacherVars)) v.trainable = true;
    try {
      const withTeachers = valueAndGrads(loss, { ...teacherVars, 'projectors.0.weight': vars['projectors.0.weight']! });
      expect(Object.keys(withTeachers.grads)).toEqual(['projectors.0.weight']);
      tf.dispose([withTeachers.value, ...Object.values(withTeachers.grads)]);
      expect(() => valueAndGrads(loss, teacherVars)).toThrow(/Cannot find a connection/);
    } finally {
      for (const v of Object.values(teacherVars)) v.trainable = false;
    }
    objective.dispose();
  });

  for (const name of ['(1) mocov3 -> mae-initialised student', '(2) mae -> mocov3-initialised student', '(3) mocov3 + mae -> random student']) {
    it(`${name}: trains 3 steps through the Trainer; the teachers stay bit-identical, the student moves`, async () => {
      const objective = await build(setups()[name]!);
      const teachersBefore = objective.teachers.map((t) => snapshot(t.params));
      const studentBefore = snapshot(objective.student);
      const reporter = memoryReporter();
      const trainer = new Trainer({ objective, method: 'moma', config: parseTrainerConfig({ batchSize: 8, budget: '3steps', lr: 2e-3 }), dataset, reporter, handleSignals: false });
      const { losses } = await trainer.run();
      expect(losses).toHaveLength(3);
      expect(losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      expect(Object.keys(reporter.records[0]!.metrics).filter((k) => k.startsWith('teacher')).sort()).toEqual(objective.teachers.map((_, i) => `teacher${i}Loss`));
      objective.teachers.forEach((t, i) => expect(snapshot(t.params)).toEqual(teachersBefore[i]));
      expect(snapshot(objective.student)['blocks.0.attn.qkv.weight']).not.toEqual(studentBefore['blocks.0.attn.qkv.weight']);
      trainer.dispose();
      objective.dispose();
    });
  }

  it('does not leak tensors across steps', async () => {
    await expectNoTensorLeak(async (config: TrainerConfigInput) => {
      const objective = await build({ ...setups()['(3) mocov3 + mae -> random student']!, projector: 'mlp', projectorHiddenDim: 16 });
      const trainer = new Trainer({ objective, method: 'moma', config: parseTrainerConfig({ batchSize: 8, lr: 2e-3, ...config }), dataset, reporter: memoryReporter(), handleSignals: false });
      return { trainer, objective };
    });
  });

  it('checkpoints hold the student and projectors, not the teachers; a run resumes bit for bit and rebuilds from its checkpoint', async () => {
    const config = parseMomaConfig(setups()['(3) mocov3 + mae -> random student']!);
    const make = async (outDir?: string) => {
      const objective = await moma.create(config, ctx());
      const trainer = new Trainer({
        objective, method: 'moma', config: parseTrainerConfig({ batchSize: 8, budget: '4steps', lr: 2e-3 }), dataset, reporter: memoryReporter(), handleSignals: false,
        ...(outDir && { store: fileRunStore(outDir), runInfo: { method: 'moma', methodConfig: config, imageShape: [16, 16, 1], batchSize: 8 } }),
      });
      return { objective, trainer };
    };
    const a = await make();
    const full = await a.trainer.run();
    a.trainer.dispose();
    a.objective.dispose();

    const dir = await tmp('run');
    const b = await make(dir);
    const first = await b.trainer.run({ limit: 2 });
    const names = Object.keys((await loadCheckpoint(join(dir, 'checkpoints'))).tensors);
    expect(names).toContain('var/projectors.1.weight');
    expect(names).toContain('var/blocks.0.attn.qkv.weight');
    expect(names.filter((n) => n.startsWith('var/')).length).toBe(Object.keys(b.objective.variables()).length);
    const state = JSON.parse(await readFile(join(first.checkpoint!, 'state.json'), 'utf8')).state.objective;
    expect(state.teachers.map((t: { method: string }) => t.method)).toEqual(['mocov3', 'mae']);
    expect(state.teachers[0].tensorsSha256).toBe(b.objective.teachers[0]!.tensorsSha256);
    b.trainer.dispose();
    b.objective.dispose();

    const c = await make(dir);
    await c.trainer.restore(join(dir, 'checkpoints'));
    const rest = await c.trainer.run();
    expect([...first.losses, ...rest.losses]).toEqual(full.losses);
    const trained = snapshot(c.objective.student);
    c.trainer.dispose();
    c.objective.dispose();
    // maskedssl eval's path: the registry rebuilds the method (teachers from their paths), then the values.
    const rebuilt = await loadObjective(dir);
    expect(snapshot(rebuilt.objective.backbone().params)).toEqual(trained);
    rebuilt.objective.dispose();
    expect((await readdir(join(dir, 'checkpoints'))).length).toBeGreaterThan(0);
  });

  it('a restored run whose teacher paths now hold other checkpoints refuses to train, but still gives its student', async () => {
    const objective = await build(setups()['(1) mocov3 -> mae-initialised student']!);
    const view = tf.zeros([2, 16, 16, 1]) as tf.Tensor4D;
    const state = objective.getState();
    objective.setState(state);
    expect(Number.isFinite(value(objective.loss([view], { step: 0, totalSteps: 1, epoch: 0 }, new Rng(1)).loss))).toBe(true);
    objective.setState({ ...state, teachers: [{ method: 'mocov3', checkpoint: '/old/step-00000100', tensorsSha256: '0'.repeat(64) }] });
    expect(() => objective.loss([view], { step: 0, totalSteps: 1, epoch: 0 }, new Rng(1))).toThrow(
      new RegExp(`teachers\\[0\\]\\.checkpoint ${mocoRun}: it now gives .*step-00000002 .*not /old/step-00000100 .*that this run was trained with`),
    );
    expect(objective.backbone().params).toBe(objective.student);
    objective.dispose();
  });

  it('refuses missing and mismatched checkpoints with one line naming the field, the path and the mismatch', async () => {
    const attempt = async (c: MomaConfigInput, imageShape: [number, number, number] = [16, 16, 1]) => {
      try {
        (await moma.create(parseMomaConfig(c), { imageShape, batchSize: 4, rng: new Rng(0) })).dispose();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const t = (checkpoint: string) => ({ teachers: [{ checkpoint }] });
    const missing = join(tmpdir(), 'maskedssl-moma-no-such-run');
    const empty = await tmp('empty');
    const cases: [string, RegExp][] = [
      [await attempt({ ...mocoShaped, ...t(missing) }), new RegExp(`^moma: teachers\\[0\\]\\.checkpoint ${missing}: no such file or folder$`)],
      [await attempt({ ...mocoShaped, ...t(empty) }), new RegExp(`^moma: teachers\\[0\\]\\.checkpoint ${empty}: no checkpoint folder \\(step-XXXXXXXX\\)`)],
      [await attempt({ ...mocoShaped, teachers: [{ checkpoint: mocoRun }, { checkpoint: missing }] }), new RegExp(`^moma: teachers\\[1\\]\\.checkpoint ${missing}: no such file`)],
      // The teachers see 16x16 images; 28x28 data, or a student with 2-pixel patches (an 8x8 grid), does not fit them.
      [await attempt({ ...mocoShaped, ...t(mocoRun) }, [28, 28, 1]), new RegExp(`^moma: teachers\\[0\\]\\.checkpoint ${mocoRun}: its mocov3 backbone takes 16x16x1 images as 4x4 patches of 4x4, the student 28x28x1 images as 7x7 patches of 4x4$`)],
      [await attempt({ backbone: 'vit-tiny/4', backboneOverrides: { ...tinyMoco.backboneOverrides, patchSize: 2 }, ...t(maeRun) }), /teachers\[0\]\.checkpoint .*: its mae backbone takes 16x16x1 images as 4x4 patches of 4x4, the student 16x16x1 images as 8x8 patches of 2x2$/],
      [await attempt({ ...mocoShaped, ...t(mocoRun) }, [16, 16, 3]), /its mocov3 backbone takes 16x16x1 images .*, the student 16x16x3 images/],
      // A student-init checkpoint whose backbone is not the configured student.
      [await attempt({ ...mocoShaped, ...t(mocoRun), studentInit: maeRun }), new RegExp(`^moma: studentInit ${maeRun}: its mae backbone is not the student's \\(embedDim 24 there, 32 here\\); set backbone/backboneOverrides to match it$`)],
      [await attempt({ backbone: 'vit-tiny/4', backboneOverrides: { embedDim: 24, depth: 3, numHeads: 4 }, ...t(mocoRun), studentInit: maeRun }), /studentInit .*: its mae backbone is not the student's \(depth 2 there, 3 here; numHeads 2 there, 4 here\)/],
      [await attempt({ ...mocoShaped, ...t(mocoRun), studentInit: missing }), new RegExp(`^moma: studentInit ${missing}: no such file or folder$`)],
      // A file, not a checkpoint folder.
      [await attempt({ ...mocoShaped, ...t(join(mocoRun, 'metrics.jsonl')) }), /^moma: teachers\[0\]\.checkpoint .*metrics\.jsonl: no checkpoint folder/],
    ];
    for (const [message, pattern] of cases) {
      expect(message).toMatch(pattern);
      expect(message).not.toContain('\n');
    }
    // keep = max(2, ...): even 0.99 leaves 2 of 16 patches visible, so it builds.
    expect(await attempt({ ...mocoShaped, ...t(mocoRun), maskRatio: 0.99 })).toBe('no error');
    expect(await attempt({ ...mocoShaped, ...t(mocoRun), maskRatio: 0.9 }, [8, 8, 1])).toMatch(/teachers\[0\]\.checkpoint .*takes 16x16x1 images/);
  });

  it('builds the fashion-mnist preset on 28x28x1 with teachers of 28x28 runs (a 128-wide student, 32- and 24-wide teachers)', async () => {
    const moco28 = await writtenRun(mocov3, tinyMoco, [28, 28, 1]);
    const mae28 = await writtenRun(mae, tinyMae, [28, 28, 1]);
    const config = parseMomaConfig({ ...moma.presets['fashion-mnist'], teachers: [{ checkpoint: moco28 }, { checkpoint: mae28 }] });
    const objective = await moma.create(config, { imageShape: [28, 28, 1], batchSize: 4, rng: new Rng(0) });
    expect(objective.backbone().config).toMatchObject({ imageSize: 28, patchSize: 4, embedDim: 128, depth: 4 });
    expect(objective.keepCount).toBe(12);
    expect(objective.variables()['projectors.0.weight']!.shape).toEqual([128, 32]);
    expect(objective.variables()['projectors.1.weight']!.shape).toEqual([128, 24]);
    const images = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D;
    const r = objective.loss([images], { step: 0, totalSteps: 1, epoch: 0 }, new Rng(2));
    expect(r.loss.shape).toEqual([]);
    expect(Number.isFinite(value(r.loss))).toBe(true);
    expect(Object.keys(r.metrics!)).toEqual(['teacher0Loss', 'teacher1Loss']);
    expect(() => objective.loss([images, images], { step: 0, totalSteps: 1, epoch: 0 }, new Rng(2))).toThrow(/expects 1 view/);
    objective.dispose();
  });
});
