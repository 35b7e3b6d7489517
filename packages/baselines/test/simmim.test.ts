import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  initBackend, patchify, proceduralDataset, randomTokenMask, Rng, valueAndGrads,
  vitForward, vitParamShapes, type ObjectiveContext, } from '@maskedssl/core/node';
import {
  createSimMimHead, parseSimMimConfig, simmim, simMimPixelLoss, simMimPredict, type SimMimConfigInput,
} from '../src/simmim.js';
import { expectNoTensorLeak, mean, shortRunLosses, trainerFactory, expectPixelMaskedView } from './trainer-checks.js';

await initBackend({ log: null });

const t3 = (rows: number[][][]) => tf.tensor3d(rows);
const t2 = (rows: number[][]) => tf.tensor2d(rows);
const value = (t: tf.Tensor) => t.dataSync()[0]!;

/** A tiny SimMIM for 16x16x1 images (4x4 patches of 4x4 pixels): fast enough for training tests. */
const tiny: SimMimConfigInput = { backbone: 'vit-tiny/4', backboneOverrides: { embedDim: 32, depth: 2, numHeads: 2 } };
const ctx16 = (): ObjectiveContext => ({ imageShape: [16, 16, 1], batchSize: 16, rng: new Rng(42) });
const info = { step: 0, totalSteps: 1, epoch: 0 };

describe('simMimPixelLoss', () => {
  it('is exactly zero on a perfect reconstruction', () => {
    const target = tf.tensor3d(new Rng(1).uniformArray(2 * 5 * 6), [2, 5, 6]);
    expect(value(simMimPixelLoss(target, target, t2([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1]])))).toBe(0);
  });

  it('counts only masked positions', () => {
    const target = tf.tensor3d(new Rng(2).uniformArray(2 * 4 * 3), [2, 4, 3]);
    const pred = tf.tensor3d(new Rng(3).uniformArray(2 * 4 * 3), [2, 4, 3]);
    const mask = t2([[1, 0, 0, 1], [0, 1, 0, 0]]);
    const base = value(simMimPixelLoss(pred, target, mask));
    // Add 5 to every pixel of one patch: visible (0, 1) and (1, 2) leave the loss unchanged, masked (1, 1) changes it.
    const bump = (b: number, n: number) => tf.add(pred, tf.oneHot([[b * 4 + n]], 8).reshape([2, 4, 1]).mul(5)) as tf.Tensor3D;
    expect(value(simMimPixelLoss(bump(0, 1), target, mask))).toBe(base);
    expect(value(simMimPixelLoss(bump(1, 2), target, mask))).toBe(base);
    expect(value(simMimPixelLoss(bump(1, 1), target, mask))).toBeGreaterThan(base + 1);
  });

  it("matches a hand-computed L1: sum over the masked patches' pixels / their number", () => {
    const pred = t3([[[1, 2], [3, 5]], [[0, 1], [2, -2]]]);
    const target = t3([[[0, 0], [3, 3]], [[0, 0], [0, 0]]]);
    // |diff| per patch: sample 0: 1+2, 0+2; sample 1: 0+1, 2+2.
    expect(value(simMimPixelLoss(pred, target, t2([[1, 1], [1, 1]])))).toBeCloseTo((3 + 2 + 1 + 4) / 8, 6);
    expect(value(simMimPixelLoss(pred, target, t2([[0, 1], [1, 1]])))).toBeCloseTo((2 + 1 + 4) / 6, 6);
    expect(value(simMimPixelLoss(pred, target, t2([[1, 0], [0, 0]])))).toBeCloseTo(3 / 2, 6);
  });

  it('refuses mismatched shapes', () => {
    expect(() => simMimPixelLoss(tf.zeros([1, 2, 3]), tf.zeros([1, 2, 4]), tf.zeros([1, 2]))).toThrow(/pred \[1,2,3\] and target \[1,2,4\]/);
    expect(() => simMimPixelLoss(tf.zeros([1, 2, 3]), tf.zeros([1, 2, 3]), tf.zeros([1, 3]))).toThrow(/mask \[1,3\]/);
  });
});

describe('head', () => {
  it("drops the CLS token and maps each patch token to its pixels, with torch's Conv2d default init", () => {
    const head = createSimMimHead(8, 5, new Rng(4), 'test');
    const tokens = tf.tensor3d(new Rng(5).normalArray(2 * 4 * 8), [2, 4, 8]);
    const out = simMimPredict(head, tokens);
    expect(out.shape).toEqual([2, 3, 5]);
    const want = tf.add(tf.matMul(tf.reshape(tf.slice(tokens, [0, 1, 0], [2, 3, 8]), [6, 8]), head['decoder.0.weight']!), head['decoder.0.bias']!);
    Array.from(out.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want.dataSync()[i]!, 5));
    const w = Array.from(head['decoder.0.weight']!.dataSync());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.8 / Math.sqrt(8));
    expect(Array.from(head['decoder.0.bias']!.dataSync()).some((v) => v !== 0)).toBe(true);
  });
});

describe('simmim objective', () => {
  it('has the reference defaults and a fashion-mnist preset that builds on 28x28x1', () => {
    expect(parseSimMimConfig({})).toMatchObject({ backbone: 'vit-base/16', maskRatio: 0.6, cropMinScale: 0.67 });
    const objective = simmim.create(parseSimMimConfig(simmim.presets['fashion-mnist']), { imageShape: [28, 28, 1], batchSize: 4, rng: new Rng(0) });
    const { config, params } = objective.backbone();
    expect(config).toMatchObject({ imageSize: 28, patchSize: 4, embedDim: 128, depth: 4 });
    expect(Object.keys(params).sort()).toEqual(Object.keys(vitParamShapes(config)).sort());
    const vars = objective.variables();
    expect(vars['decoder.0.weight']!.shape).toEqual([128, 16]);
    const mt = Array.from(vars.mask_token!.dataSync());
    expect(vars.mask_token!.shape).toEqual([1, 1, 128]);
    expect(Math.max(...mt.map(Math.abs))).toBeLessThanOrEqual(0.02); // truncated at +-std, as the reference
    expect(mt.some((v) => v !== 0)).toBe(true);
    const [decay, noDecay] = objective.paramGroups();
    expect(Object.keys(noDecay!.params)).toContain('mask_token');
    expect(Object.keys(decay!.params)).toContain('decoder.0.weight');
    expect(objective.views[0]).toContainEqual(expect.objectContaining({ type: 'randomResizedCrop', scale: [0.67, 1] }));
    const images = tf.randomUniform([4, 28, 28, 1]) as tf.Tensor4D;
    const loss = objective.loss([images], info, new Rng(2)).loss;
    expect(loss.shape).toEqual([]);
    expect(Number.isFinite(value(loss))).toBe(true);
    objective.dispose();
  });

  it('runs the full encoder with the mask token at 60% of the tokens and scores the masked patches', () => {
    const objective = simmim.create(parseSimMimConfig(tiny), ctx16());
    const { config, params } = objective.backbone();
    const vars = objective.variables();
    const images = tf.randomUniform([3, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const got = value(objective.loss([images], info, new Rng(9)).loss);
    // The same Rng draws the same mask: 10 of 16 tokens masked (ceil(16 * 0.6)), all 17 tokens encoded.
    const m = randomTokenMask(new Rng(9), 3, 16, 0.6);
    expect(value(tf.sum(m.mask))).toBe(30);
    const tokens = vitForward(config, params, images, { mask: m.mask, maskToken: vars.mask_token! }).tokens;
    expect(tokens.shape).toEqual([3, 17, 32]);
    const target = patchify(images, 4);
    expect(got).toBeCloseTo(value(simMimPixelLoss(simMimPredict(vars, tokens), target, m.mask)), 5);
    // Without the mask token the encoder sees the patches and the loss differs.
    const plain = vitForward(config, params, images).tokens;
    expect(Math.abs(got - value(simMimPixelLoss(simMimPredict(vars, plain), target, m.mask)))).toBeGreaterThan(1e-4);
    objective.dispose();
  });

  it('sends a non-zero gradient to every learnable variable (encoder, mask token, head)', () => {
    const objective = simmim.create(parseSimMimConfig(tiny), ctx16());
    const images = tf.randomUniform([4, 16, 16, 1]) as tf.Tensor4D;
    const { value: loss, grads } = valueAndGrads(() => objective.loss([images], info, new Rng(3)).loss, objective.variables());
    const trainable = Object.keys(objective.variables()).filter((k) => objective.variables()[k]!.trainable);
    expect(trainable).toContain('mask_token');
    expect(Object.keys(grads).sort()).toEqual(trainable.sort());
    for (const [name, g] of Object.entries(grads)) expect(value(tf.max(tf.abs(g))), name).toBeGreaterThan(0);
    tf.dispose([loss, ...Object.values(grads), images]);
    objective.dispose();
  });

  it('refuses bad configs naming the field', () => {
    expect(() => parseSimMimConfig({ maskRatio: 1 })).toThrow(/maskRatio: /);
    expect(() => parseSimMimConfig({ maskRatio: 0 })).toThrow(/maskRatio: /);
    expect(() => parseSimMimConfig({ cropMinScale: 0 })).toThrow(/cropMinScale: /);
    expect(() => parseSimMimConfig({ backbone: 'vit-huge/14' })).toThrow(/backbone: /);
    expect(() => parseSimMimConfig({ maskRatoi: 0.5 })).toThrow(/maskRatoi/);
    expect(() => parseSimMimConfig({ backbone: 'vit-tiny/4', backboneOverrides: { numHeads: 5 } })).toThrow(/backboneOverrides.numHeads: embedDim 192 is not divisible/);
    const build = (c: SimMimConfigInput, imageShape: [number, number, number]) => simmim.create(parseSimMimConfig(c), { imageShape, batchSize: 2, rng: new Rng(0) });
    expect(() => build({ ...tiny, maskRatio: 1e-17 }, [16, 16, 1])).toThrow(/maskRatio 1e-17 masks no patch of 16/);
    expect(() => build(tiny, [18, 18, 1])).toThrow(/patchSize: imageSize 18 is not divisible by patchSize 4/);
    expect(() => build(tiny, [16, 12, 1])).toThrow(/square/);
  });
});

describe('maskedView (the playground)', () => {
  it('shows the visible patches as they are and the masked ones as predicted, without leaking', async () => {
    const objective = simmim.create(parseSimMimConfig(tiny), ctx16());
    const images = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    await expectPixelMaskedView(objective, images, 4);
    images.dispose();
    objective.dispose();
  });
});

describe('training through the Trainer', () => {
  const dataset = proceduralDataset({ count: 96, seed: 1, size: 16 });
  const makeTrainer = trainerFactory('simmim', () => simmim.create(parseSimMimConfig(tiny), ctx16()), dataset, { batchSize: 16, lr: 2e-3, warmup: 0.1, clipGradNorm: 5, betas: [0.9, 0.999] });

  it('does not leak tensors across steps', async () => {
    await expectNoTensorLeak(makeTrainer);
  });

  it('lowers the loss over 30 steps on procedural images', async () => {
    const losses = await shortRunLosses(makeTrainer, 30);
    // Weak: most of this early drop (about 0.45 -> 0.2 here) is the randomly initialised head learning
    // the pixel scale of the targets.
    expect(mean(losses.slice(-5))).toBeLessThan(0.9 * mean(losses.slice(0, 5)));
  });
});
