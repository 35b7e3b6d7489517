import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  AdamW, applyPipeline, batchToTensors, createMlpHead, initBackend, mlpHeadForward, parseTrainerConfig, proceduralDataset, Rng, updateMomentumPairs, valueAndGrads, vitParamShapes, type ObjectiveContext,
  } from '@maskedssl/core/node';
import {
  contrastiveLoss, mocov3, mocoV3Head, mocoV3Loss, MocoV3Objective, parseMocoV3Config,
  type MocoV3ConfigInput,
} from '../src/index.js';
import { expectNoTensorLeak, mean, shortRunLosses, trainerFactory } from './trainer-checks.js';

await initBackend({ log: null });

const value = (t: tf.Tensor) => t.dataSync()[0]!;
const info = (step: number, totalSteps: number) => ({ step, totalSteps, epoch: 0 });

/** A tiny MoCo v3 for 16x16x1 images (4x4 patches of 4x4 pixels): fast enough for training tests. */
const tiny: MocoV3ConfigInput = {
  backbone: 'vit-tiny/4',
  backboneOverrides: { embedDim: 32, depth: 2, numHeads: 2 },
  projectorHiddenDim: 64,
  predictorHiddenDim: 64,
  outDim: 16,
  cropMinScale: 0.2,
};
const ctx16 = (): ObjectiveContext => ({ imageShape: [16, 16, 1], batchSize: 8, rng: new Rng(42) });
const build = (c: MocoV3ConfigInput = tiny) => mocov3.create(parseMocoV3Config(c), ctx16()) as MocoV3Objective;

/** Plain-JS ctr(q, k): normalise rows, logits q·k/T, mean cross entropy with target i, times 2T. */
function referenceCtr(q: number[][], k: number[][], t: number): number {
  const unit = (r: number[]) => r.map((v) => v / Math.hypot(...r));
  const qn = q.map(unit);
  const kn = k.map(unit);
  let total = 0;
  for (let i = 0; i < q.length; i++) {
    const logits = kn.map((kr) => kr.reduce((s, v, c) => s + v * qn[i]![c]!, 0) / t);
    const lse = Math.log(logits.reduce((s, l) => s + Math.exp(l), 0));
    total += lse - logits[i]!;
  }
  return (total / q.length) * 2 * t;
}

describe('contrastiveLoss', () => {
  const T = 0.2;
  const n = 4;
  const oneHots = (count: number, dim: number, offset = 0, scale = 1) =>
    Array.from({ length: count }, (_, i) => Array.from({ length: dim }, (_, c) => (c === i + offset ? scale : 0)));

  it('with keys equal to the queries and orthogonal across samples: -log(e^(1/T) / (e^(1/T) + N - 1)) * 2T', () => {
    // q_i = 3 e_i, k_i = e_i: normalisation makes them equal; logits 1/T on the diagonal, 0 elsewhere.
    const q = tf.tensor2d(oneHots(n, 6, 0, 3));
    const k = tf.tensor2d(oneHots(n, 6));
    const e = Math.exp(1 / T);
    expect(value(contrastiveLoss(q, k, T))).toBeCloseTo(-Math.log(e / (e + n - 1)) * 2 * T, 5);
  });

  it('with every query orthogonal to every key (positives included): log(N) * 2T', () => {
    const q = tf.tensor2d(oneHots(n, 8));
    const k = tf.tensor2d(oneHots(n, 8, 4, 0.5));
    expect(value(contrastiveLoss(q, k, T))).toBeCloseTo(Math.log(n) * 2 * T, 5);
    // Swapped keys (each query's positive is another query's direction): worse than chance.
    const swapped = tf.tensor2d(oneHots(n, 6).reverse());
    expect(value(contrastiveLoss(tf.tensor2d(oneHots(n, 6)), swapped, T))).toBeGreaterThan(Math.log(n) * 2 * T);
  });

  it('matches a plain-JS cross entropy on random inputs, and mocoV3Loss is ctr(q1, k2) + ctr(q2, k1)', () => {
    const rng = new Rng(9);
    const rand = () => Array.from({ length: 5 }, () => Array.from(rng.normalArray(3)));
    const [q1, q2, k1, k2] = [rand(), rand(), rand(), rand()];
    const t = (rows: number[][]) => tf.tensor2d(rows);
    expect(value(contrastiveLoss(t(q1), t(k2), 0.5))).toBeCloseTo(referenceCtr(q1, k2, 0.5), 5);
    const sym = value(mocoV3Loss(t(q1), t(q2), t(k1), t(k2), 0.5));
    expect(sym).toBeCloseTo(referenceCtr(q1, k2, 0.5) + referenceCtr(q2, k1, 0.5), 5);
    // The cross pairing, not each view with its own key.
    expect(Math.abs(sym - (referenceCtr(q1, k1, 0.5) + referenceCtr(q2, k2, 0.5)))).toBeGreaterThan(1e-3);
  });

  it('refuses mismatched shapes and a non-positive temperature', () => {
    expect(() => contrastiveLoss(tf.zeros([4, 3]), tf.zeros([4, 2]), 0.2)).toThrow(/query \[4,3\] and key \[4,2\]/);
    expect(() => contrastiveLoss(tf.ones([4, 3]), tf.ones([4, 3]), 0)).toThrow(/temperature/);
  });
});

describe('the MLP heads (core\'s createMlpHead with mocoV3Head)', () => {
  it('names the variables as the reference nn.Sequential, without linear biases or last-BN affine', () => {
    const head = createMlpHead('head', mocoV3Head(3, 8, 12, 4), new Rng(1), 'test');
    expect(Object.fromEntries(Object.entries(head).map(([k, v]) => [k, v.shape]))).toEqual({
      'head.0.weight': [8, 12], 'head.1.weight': [12], 'head.1.bias': [12],
      'head.3.weight': [12, 12], 'head.4.weight': [12], 'head.4.bias': [12],
      'head.6.weight': [12, 4],
    });
    // torch's nn.Linear default: U(+-1/sqrt(fan_in)).
    const w = Array.from(head['head.3.weight']!.dataSync()).map(Math.abs);
    expect(Math.max(...w)).toBeLessThanOrEqual(1 / Math.sqrt(12));
    expect(Math.max(...w)).toBeGreaterThan(0.8 / Math.sqrt(12));
    expect(Array.from(head['head.1.weight']!.dataSync()).every((v) => v === 1)).toBe(true);
    const pred = createMlpHead('predictor', mocoV3Head(2, 4, 6, 4), new Rng(2), 'test');
    expect(Object.keys(pred)).toEqual(['predictor.0.weight', 'predictor.1.weight', 'predictor.1.bias', 'predictor.3.weight']);
  });

  it('ends on a non-affine BN: each output column has batch mean 0 and variance ~1', () => {
    const head = createMlpHead('head', mocoV3Head(3, 8, 16, 5), new Rng(3), 'test');
    const y = mlpHeadForward('head', mocoV3Head(3, 8, 16, 5), head, tf.tensor2d(new Rng(4).normalArray(10 * 8), [10, 8]));
    expect(y.shape).toEqual([10, 5]);
    const { mean, variance } = tf.moments(y, 0);
    Array.from(mean.dataSync()).forEach((m) => expect(m).toBeCloseTo(0, 5));
    // Slightly below 1: var / (var + eps) with eps = 1e-5 and a small pre-BN variance.
    Array.from(variance.dataSync()).forEach((v) => expect(v).toBeCloseTo(1, 2));
  });
});

describe('mocov3 objective', () => {
  it('has the reference defaults and a fashion-mnist preset that builds on 28x28x1', () => {
    expect(parseMocoV3Config({})).toMatchObject({
      backbone: 'vit-small/16', pool: 'cls', outDim: 256, projectorHiddenDim: 4096, predictorHiddenDim: 4096, temperature: 0.2,
      momentum: 0.99, momentumEnd: 1, freezePatchEmbed: true, cropMinScale: 0.08,
    });
    const objective = mocov3.create(parseMocoV3Config(mocov3.presets['fashion-mnist']), { imageShape: [28, 28, 1], batchSize: 4, rng: new Rng(0) }) as MocoV3Objective;
    const { config, params } = objective.backbone();
    expect(config).toMatchObject({ imageSize: 28, patchSize: 4, inChannels: 1, embedDim: 128, depth: 4 });
    expect(Object.keys(params).sort()).toEqual(Object.keys(vitParamShapes(config)).sort());
    const vars = objective.variables();
    // backbone() is the base (query) encoder, not the momentum copy.
    expect(params['blocks.0.attn.qkv.weight']).toBe(vars['base_encoder.blocks.0.attn.qkv.weight']);
    const shapes = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.shape]));
    expect(shapes).toMatchObject({
      'base_encoder.head.0.weight': [128, 512], 'base_encoder.head.3.weight': [512, 512], 'base_encoder.head.6.weight': [512, 256],
      'predictor.0.weight': [256, 512], 'predictor.3.weight': [512, 256],
      'momentum_encoder.head.6.weight': [512, 256], 'momentum_encoder.blocks.3.mlp.fc2.weight': [512, 128],
    });
    // The momentum encoder copies backbone + projector, not the predictor; everything of it is frozen.
    const momentum = Object.keys(vars).filter((k) => k.startsWith('momentum_encoder.'));
    expect(momentum.map((k) => k.slice('momentum_encoder.'.length)).sort()).toEqual(
      Object.keys(vars).filter((k) => k.startsWith('base_encoder.')).map((k) => k.slice('base_encoder.'.length)).sort(),
    );
    expect(momentum.every((k) => !vars[k]!.trainable)).toBe(true);
    // Reference init: N(0, 1e-6) class token, one xavier bound sqrt(6 / 2D), D = 128 over q, k and v.
    expect(Math.max(...Array.from(params.cls_token!.dataSync()).map(Math.abs))).toBeLessThan(1e-5);
    const qkv = Array.from(params['blocks.2.attn.qkv.weight']!.dataSync()).map(Math.abs);
    expect(Math.max(...qkv)).toBeLessThanOrEqual(Math.sqrt(6 / 256));
    expect(Math.max(...qkv)).toBeGreaterThan(0.95 * Math.sqrt(6 / 256));
    // One AdamW group of every learnable variable (the reference decays all of them); frozen ones out.
    const groups = objective.paramGroups();
    expect(groups).toHaveLength(1);
    expect(groups[0]!.weightDecay).toBeUndefined();
    const learnable = Object.keys(groups[0]!.params);
    expect(learnable).toContain('base_encoder.norm.bias');
    expect(learnable).toContain('predictor.1.bias');
    expect(learnable.filter((k) => /patch_embed|pos_embed|momentum_encoder/.test(k))).toEqual([]);
    expect(mocov3.trainerPresets!['fashion-mnist']).toMatchObject({ batchSize: 64, weightDecay: 0.1, betas: [0.9, 0.999] });
    parseTrainerConfig(mocov3.trainerPresets!['fashion-mnist']);
    // Shapes of q and k, and a finite scalar loss.
    const v1 = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D;
    const v2 = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D;
    const { q1, q2, k1, k2 } = objective.embed(v1, v2);
    for (const t of [q1, q2, k1, k2]) expect(t.shape).toEqual([4, 256]);
    const loss = objective.loss([v1, v2]).loss;
    expect(loss.shape).toEqual([]);
    expect(Number.isFinite(value(loss))).toBe(true);
    tf.dispose([v1, v2, q1, q2, k1, k2, loss]);
    objective.dispose();
  });

  it('starts with the momentum encoder an exact copy of the base encoder (backbone + projector)', () => {
    const objective = build();
    const vars = objective.variables();
    for (const name of Object.keys(objective.encoder)) {
      expect(Array.from(vars[`momentum_encoder.${name}`]!.dataSync()), name).toEqual(Array.from(vars[`base_encoder.${name}`]!.dataSync()));
    }
    objective.dispose();
  });

  it('sends gradients to the base encoder and predictor only: none to the momentum branch or the frozen patch embedding', () => {
    const objective = build();
    const views = [0, 1].map(() => tf.randomUniform([6, 16, 16, 1]) as tf.Tensor4D);
    const vars = objective.variables();
    const { value: loss, grads } = valueAndGrads(() => objective.loss(views).loss, vars);
    const expected = Object.keys(vars).filter((k) => (k.startsWith('base_encoder.') || k.startsWith('predictor.')) && !/patch_embed|pos_embed/.test(k));
    expect(Object.keys(grads).sort()).toEqual(expected.sort());
    for (const [name, g] of Object.entries(grads)) expect(value(tf.max(tf.abs(g))), name).toBeGreaterThan(0);
    tf.dispose([loss, ...Object.values(grads)]);

    // Made trainable for a moment, the momentum encoder still gets nothing: the keys are computed off
    // the gradient tape (noGrad), so no momentum variable is connected to the loss at all.
    const momentum = Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith('momentum_encoder.') && !/patch_embed|pos_embed/.test(k)));
    for (const v of Object.values(momentum)) v.trainable = true;
    const withMomentum = valueAndGrads(() => objective.loss(views).loss, { ...momentum, 'predictor.0.weight': vars['predictor.0.weight']! });
    for (const v of Object.values(momentum)) v.trainable = false;
    const momentumGrads = Object.entries(withMomentum.grads).filter(([k]) => k.startsWith('momentum_encoder.'));
    expect(Object.keys(momentum).length).toBeGreaterThan(10);
    expect(momentumGrads.map(([k]) => k)).toEqual([]);
    expect(value(tf.max(tf.abs(withMomentum.grads['predictor.0.weight']!)))).toBeGreaterThan(0);
    tf.dispose([withMomentum.value, ...Object.values(withMomentum.grads), ...views]);
    objective.dispose();
  });

  it('trains the patch embedding when freezePatchEmbed is false', () => {
    const objective = build({ ...tiny, freezePatchEmbed: false });
    const views = [0, 1].map(() => tf.randomUniform([4, 16, 16, 1]) as tf.Tensor4D);
    const { value: loss, grads } = valueAndGrads(() => objective.loss(views).loss, objective.variables());
    expect(Object.keys(grads)).toEqual(expect.arrayContaining(['base_encoder.patch_embed.proj.weight', 'base_encoder.patch_embed.proj.bias']));
    expect(Object.keys(objective.paramGroups()[0]!.params)).toContain('base_encoder.patch_embed.proj.weight');
    expect(Object.keys(grads).some((k) => k.startsWith('momentum_encoder.'))).toBe(false);
    tf.dispose([loss, ...Object.values(grads), ...views]);
    objective.dispose();
  });

  it('moves the momentum encoder by m(step + 1) of the cosine schedule after a step', () => {
    const objective = build({ ...tiny, momentum: 0.9 });
    const vars = objective.variables();
    const base = vars['base_encoder.head.3.weight']!;
    const mom = vars['momentum_encoder.head.3.weight']!;
    base.assign(tf.fill(base.shape, 3));
    mom.assign(tf.fill(mom.shape, 1));
    const before = Array.from(vars['momentum_encoder.blocks.0.attn.qkv.weight']!.dataSync());
    // Step 0 of 2: m(1) = 1 - (1 - 0.9) * (cos(pi / 2) + 1) / 2 = 0.95 -> 0.95 * 1 + 0.05 * 3 = 1.1.
    tf.tidy(() => updateMomentumPairs(objective.momentumPairs(), info(0, 2)));
    Array.from(mom.dataSync()).forEach((v) => expect(v).toBeCloseTo(1.1, 6));
    expect(Array.from(base.dataSync()).every((v) => v === 3)).toBe(true);
    // Where base and momentum agree, nothing moves (up to rounding).
    Array.from(vars['momentum_encoder.blocks.0.attn.qkv.weight']!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(before[i]!, 6));
    // The last step: m(2) = 1, no update.
    tf.tidy(() => updateMomentumPairs(objective.momentumPairs(), info(1, 2)));
    Array.from(mom.dataSync()).forEach((v) => expect(v).toBeCloseTo(1.1, 6));
    objective.dispose();

    // A constant momentum (momentumEnd = momentum): 0.9 * 1 + 0.1 * 3 = 1.2 at any step.
    const constant = build({ ...tiny, momentum: 0.9, momentumEnd: 0.9 });
    const cv = constant.variables();
    cv['base_encoder.head.0.weight']!.assign(tf.fill(cv['base_encoder.head.0.weight']!.shape, 3));
    cv['momentum_encoder.head.0.weight']!.assign(tf.fill(cv['momentum_encoder.head.0.weight']!.shape, 1));
    tf.tidy(() => updateMomentumPairs(constant.momentumPairs(), info(7, 10)));
    Array.from(cv['momentum_encoder.head.0.weight']!.dataSync()).forEach((v) => expect(v).toBeCloseTo(1.2, 6));
    constant.dispose();
  });

  it('fits one fixed pair of views: the loss falls fast when the crops do not change', () => {
    const objective = build();
    const { images } = batchToTensors(proceduralDataset({ count: 16, seed: 3, size: 16 }).getBatch(Array.from({ length: 16 }, (_, i) => i)));
    const rng = new Rng(5);
    const views = objective.views.map((p) => applyPipeline(images, p, rng));
    const groups = objective.paramGroups();
    const optimizer = new AdamW(groups, { betas: [0.9, 0.999] });
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const { value: loss, grads } = valueAndGrads(() => objective.loss(views).loss, groups[0]!.params);
      losses.push(value(loss));
      optimizer.step(grads, { lr: 2e-3, weightDecay: 0.1 });
      tf.dispose([loss, ...Object.values(grads)]);
      tf.tidy(() => updateMomentumPairs(objective.momentumPairs(), info(step, 1000)));
    }
    // About 2.2 -> 0.5: queries learn to pick their own image's key among the 16.
    expect(losses[19]!).toBeLessThan(0.5 * losses[0]!);
    optimizer.dispose();
    tf.dispose([images, ...views]);
    objective.dispose();
  });

  it('refuses bad configs naming the field', () => {
    expect(() => parseMocoV3Config({ momentum: 0.99, momentumEnd: 0.9 })).toThrow(/momentumEnd: momentumEnd 0.9 is below momentum 0.99/);
    expect(() => parseMocoV3Config({ momentum: 1.5 })).toThrow(/momentum: /);
    expect(() => parseMocoV3Config({ temperature: 0 })).toThrow(/temperature: /);
    expect(() => parseMocoV3Config({ outDim: 0 })).toThrow(/outDim: /);
    expect(() => parseMocoV3Config({ projectorHiddenDim: 2.5 })).toThrow(/projectorHiddenDim: /);
    expect(() => parseMocoV3Config({ freezePatchEmbed: 'yes' })).toThrow(/freezePatchEmbed: /);
    expect(() => parseMocoV3Config({ pool: 'max' })).toThrow(/pool: /);
    expect(() => parseMocoV3Config({ cropMinScale: 0 })).toThrow(/cropMinScale: /);
    expect(() => parseMocoV3Config({ backbone: 'vit-huge/14' })).toThrow(/backbone: /);
    expect(() => parseMocoV3Config({ temprature: 0.2 })).toThrow(/temprature/);
    expect(() => parseMocoV3Config({ backbone: 'vit-tiny/4', backboneOverrides: { numHeads: 5 } })).toThrow(/backboneOverrides.numHeads: embedDim 192 is not divisible/);
    // Rules that need the image shape or the batch are checked when the objective is built or run.
    const make = (imageShape: [number, number, number], batchSize = 4) => mocov3.create(parseMocoV3Config(tiny), { imageShape, batchSize, rng: new Rng(0) });
    expect(() => make([18, 18, 1])).toThrow(/patchSize: imageSize 18 is not divisible by patchSize 4/);
    expect(() => make([16, 12, 1])).toThrow(/square/);
    expect(() => make([16, 16, 1], 1)).toThrow(/batch size 1: needs >= 2/);
    const objective = build();
    expect(() => objective.loss([tf.zeros([1, 16, 16, 1]), tf.zeros([1, 16, 16, 1])])).toThrow(/needs >= 2/);
    expect(() => objective.loss([tf.zeros([2, 16, 16, 1])])).toThrow(/expects 2 views/);
    objective.dispose();
  });
});

describe('training through the Trainer', () => {
  const dataset = proceduralDataset({ count: 96, seed: 1, size: 16 });
  const makeTrainer = trainerFactory('mocov3', () => build(), dataset, { batchSize: 16, lr: 2e-3, warmup: 0.1, weightDecay: 0.1, betas: [0.9, 0.999] });

  it('does not leak tensors across steps', async () => {
    await expectNoTensorLeak(makeTrainer);
  });

  it('lowers the loss over 30 steps on procedural images', async () => {
    const losses = await shortRunLosses(makeTrainer, 30);
    // Weak: fresh crops every step at batch 16 make single losses swing by +-0.3, so only 10-step
    // means are compared (about 2.59 -> 2.35 here; chance is 2 * log(16) * 2T = 2.22 and a randomly
    // initialised head starts above it). Instance discrimination of 96 images can fall on easy cues
    // (brightness, blob position): this shows the loop learns, not that the features are good.
    expect(mean(losses.slice(-10))).toBeLessThan(0.95 * mean(losses.slice(0, 10)));
  });
});
