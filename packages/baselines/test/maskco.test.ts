import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, fileRunStore,
  augmentView, horizontalFlip, infoNce, initBackend, memoryReporter, parseTrainerConfig, proceduralDataset, resizedCrop, Rng, Trainer, valueAndGrads, vitParamShapes, type ObjectiveContext,
  type TrainerConfigInput,
} from '@maskedssl/core/node';
import {
  bilinearPoolingRow, cropOverlap, defaultRegionSize, mapTokenBox, maskco, MaskCoObjective, parseMaskCoConfig,
  sampleRegionPair, sourceToView, tokenBoxPixels, uniformPoolingRow, viewToSource, type MaskCoConfigInput, type Rect, type ViewGeometry,
} from '../src/index.js';

await initBackend({ log: null });

const value = (t: tf.Tensor) => t.dataSync()[0]!;
const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);
const expectRect = (got: Rect, want: Rect, digits = 6) => (['y0', 'x0', 'y1', 'x1'] as const).forEach((k) => expect(got[k], k).toBeCloseTo(want[k], digits));
const inside = (r: Rect, outer: Rect, eps = 1e-6) => r.y0 >= outer.y0 - eps && r.x0 >= outer.x0 - eps && r.y1 <= outer.y1 + eps && r.x1 <= outer.x1 + eps;

/** A tiny MaskCo for 16x16x1 images (a 4x4 token grid): fast enough for training tests. */
const tiny: MaskCoConfigInput = {
  backbone: 'vit-tiny/4',
  backboneOverrides: { embedDim: 32, depth: 2, numHeads: 2 },
  mphDepth: 1,
  headHiddenDim: 32,
  headOutDim: 16,
  queueSize: 32,
  momentum: 0.99,
  momentumEnd: 1,
};
const ctx = (batchSize = 8, size = 16): ObjectiveContext => ({ imageShape: [size, size, 1], batchSize, rng: new Rng(42) });
const build = (c: MaskCoConfigInput = tiny, batchSize = 8) => new MaskCoObjective(parseMaskCoConfig(c), ctx(batchSize));
const images = (b: number, seed = 1, size = 16) => tf.tensor4d(new Rng(seed).uniformArray(b * size * size), [b, size, size, 1]);

describe('view geometry', () => {
  it('maps view <-> source and back, flips included', () => {
    const rng = new Rng(3);
    for (let t = 0; t < 50; t++) {
      const crop = { top: rng.int(10), left: rng.int(10), height: 5 + rng.int(18), width: 5 + rng.int(18) };
      const g: ViewGeometry = { crop, flip: t % 2 === 1, height: 28, width: 28 };
      const y = rng.uniform(0, 20);
      const x = rng.uniform(0, 20);
      const r = { y0: y, x0: x, y1: y + rng.uniform(0.5, 8), x1: x + rng.uniform(0.5, 8) };
      expectRect(sourceToView(viewToSource(r, g), g), r, 4);
      expectRect(viewToSource(sourceToView(r, g), g), r, 4);
    }
    // By hand: a 14x14 crop at (7, 0) of a 28x28 image, flipped: view columns [0, 4) come from the
    // right edge of the crop, source columns [12, 14); rows [0, 4) from source rows [7, 9).
    const g: ViewGeometry = { crop: { top: 7, left: 0, height: 14, width: 14 }, flip: true, height: 28, width: 28 };
    expectRect(viewToSource({ y0: 0, x0: 0, y1: 4, x1: 4 }, g), { y0: 7, x0: 12, y1: 9, x1: 14 });
  });

  it('maps a query region to the expected fractional key box (hand cases)', () => {
    const whole: ViewGeometry = { crop: { top: 0, left: 0, height: 28, width: 28 }, flip: false, height: 28, width: 28 };
    const key: ViewGeometry = { crop: { top: 0, left: 14, height: 14, width: 14 }, flip: false, height: 28, width: 28 };
    // Query tokens rows 1-2, columns 4-5 = pixels [4, 12) x [16, 24) = source pixels; the key crop
    // doubles them from (0, 14): key pixels [8, 24) x [4, 20) = key tokens [2, 6) x [1, 5).
    const region = { top: 1, left: 4, height: 2, width: 2 };
    expectRect(mapTokenBox(region, whole, key, 4), { y0: 2, x0: 1, y1: 6, x1: 5 });
    // The key flipped: columns [1, 5) of 7 become [2, 6).
    expectRect(mapTokenBox(region, whole, { ...key, flip: true }, 4), { y0: 2, x0: 2, y1: 6, x1: 6 });
    // The query flipped: its columns 0-1 = pixels [0, 8) are source columns [20, 28) = key pixels [12, 28).
    expectRect(mapTokenBox({ top: 1, left: 0, height: 2, width: 2 }, { ...whole, flip: true }, key, 4), { y0: 2, x0: 3, y1: 6, x1: 7 });
    // A fractional case: the key crop 20x20 at (3, 5), scaled by 1.4: source [4, 12) x [16, 24) ->
    // key pixels [1.4, 12.6) x [15.4, 26.6) -> key tokens / 4.
    const k2: ViewGeometry = { crop: { top: 3, left: 5, height: 20, width: 20 }, flip: false, height: 28, width: 28 };
    expectRect(mapTokenBox(region, whole, k2, 4), { y0: (1 * 1.4) / 4, x0: (11 * 1.4) / 4, y1: (9 * 1.4) / 4, x1: (19 * 1.4) / 4 });
  });

  it('samples regions of the configured size inside the overlap of the two crops, in both directions', () => {
    const rng = new Rng(5);
    let fallbacks = 0;
    for (const scale of [[0.2, 1], [0.02, 0.05]] as const) {
      for (let t = 0; t < 150; t++) {
        const p = sampleRegionPair(rng, { height: 28, width: 28, patch: 4, scale, ratio: [3 / 4, 4 / 3], regionSize: [2, 4], symmetric: true });
        const overlap = cropOverlap(p.a.crop, p.b.crop)!;
        expect(overlap).not.toBeNull();
        for (const [region, from, to] of [[p.regionA, p.a, p.b], [p.regionB!, p.b, p.a]] as const) {
          expect(region.height).toBeGreaterThanOrEqual(2);
          expect(region.height).toBeLessThanOrEqual(4);
          expect(region.width).toBeGreaterThanOrEqual(2);
          expect(region.width).toBeLessThanOrEqual(4);
          expect(region.top + region.height).toBeLessThanOrEqual(7);
          expect(region.left + region.width).toBeLessThanOrEqual(7);
          expect(inside(viewToSource(tokenBoxPixels(region, 4), from), overlap)).toBe(true);
          const k = mapTokenBox(region, from, to, 4);
          expect(inside(k, { y0: 0, x0: 0, y1: 7, x1: 7 })).toBe(true);
          expect(k.y1 - k.y0).toBeGreaterThan(0);
        }
        if (p.fallback) {
          fallbacks++;
          expect(p.b.crop).toEqual(p.a.crop);
        }
      }
    }
    expect(fallbacks).toBeGreaterThan(0); // the tiny crops (2-5% of the area) rarely overlap enough
  });

  it("agrees with the pixels of core's resizedCrop and horizontalFlip: R in view a and its key box in view b show the same source spot", () => {
    // Two channels holding each source pixel's centre coordinates (y + 0.5, x + 0.5): the bilinear
    // resize keeps them linear, so a region's mean is its centre in source pixels.
    const s = 28;
    const ramp = tf.tensor4d(Float32Array.from({ length: s * s * 2 }, (_, i) => (i % 2 === 0 ? Math.floor(i / 2 / s) : (i / 2 >> 0) % s) + 0.5), [1, s, s, 2]);
    const view = (g: ViewGeometry) => horizontalFlip(resizedCrop(ramp, [g.crop], [s, s]), [g.flip]).arraySync()[0]!;
    const rng = new Rng(11);
    let checked = 0;
    for (let t = 0; t < 60; t++) {
      const p = sampleRegionPair(rng, { height: s, width: s, patch: 4, scale: [0.25, 1], ratio: [3 / 4, 4 / 3], regionSize: [2, 4], symmetric: false });
      const src = viewToSource(tokenBoxPixels(p.regionA, 4), p.a);
      const centre = [(src.y0 + src.y1) / 2, (src.x0 + src.x1) / 2];
      const va = view(p.a);
      const px = tokenBoxPixels(p.regionA, 4);
      const mean = [0, 0];
      for (let y = px.y0; y < px.y1; y++) for (let x = px.x0; x < px.x1; x++) [0, 1].forEach((c) => (mean[c]! += va[y]![x]![c]! / ((px.y1 - px.y0) * (px.x1 - px.x0))));
      [0, 1].forEach((c) => expect(Math.abs(mean[c]! - centre[c]!)).toBeLessThan(0.3));
      // The key side through the pooling row over view b's token means (skipping boxes whose samples would be clamped).
      const kb = mapTokenBox(p.regionA, p.a, p.b, 4);
      if (kb.y0 < 0.5 || kb.x0 < 0.5 || kb.y1 > 6.5 || kb.x1 > 6.5) continue;
      const vb = view(p.b);
      const row = bilinearPoolingRow(kb, 7, 7);
      const pooled = [0, 0];
      for (let i = 0; i < 7; i++) {
        for (let j = 0; j < 7; j++) {
          for (let y = 4 * i; y < 4 * i + 4; y++) for (let x = 4 * j; x < 4 * j + 4; x++) [0, 1].forEach((c) => (pooled[c]! += (row[i * 7 + j]! * vb[y]![x]![c]!) / 16));
        }
      }
      [0, 1].forEach((c) => expect(Math.abs(pooled[c]! - centre[c]!)).toBeLessThan(0.3));
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('uses the default region sizes of maskco.md', () => {
    expect(defaultRegionSize(7)).toEqual([2, 4]);
    expect(defaultRegionSize(14)).toEqual([3, 7]);
    expect(defaultRegionSize(4)).toEqual([1, 2]);
  });
});

describe('token RoIAlign pooling rows', () => {
  it('query rows are uniform on R and zero elsewhere', () => {
    const row = uniformPoolingRow({ top: 2, left: 3, height: 2, width: 3 }, 7);
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 7; j++) expect(row[i * 7 + j]).toBeCloseTo(i >= 2 && i < 4 && j >= 3 && j < 6 ? 1 / 6 : 0, 7);
    }
    expect(sum(row)).toBeCloseTo(1, 6);
  });

  it('key rows are non-negative and sum to 1, for any box, border boxes included', () => {
    const rng = new Rng(8);
    for (let t = 0; t < 100; t++) {
      const y0 = rng.uniform(0, 6);
      const x0 = rng.uniform(0, 6);
      const row = bilinearPoolingRow({ y0, x0, y1: rng.uniform(y0 + 0.1, 7), x1: rng.uniform(x0 + 0.1, 7) }, 7, 1 + rng.int(7));
      expect(sum(row)).toBeCloseTo(1, 5);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0);
    }
  });

  it('matches hand cases: samples on token centres, and clamping at the border', () => {
    const one = bilinearPoolingRow({ y0: 2, x0: 4, y1: 3, x1: 5 }, 7, 1); // one sample at the centre of token (2, 4)
    expect(one[2 * 7 + 4]).toBeCloseTo(1, 7);
    const four = bilinearPoolingRow({ y0: 1, x0: 1, y1: 3, x1: 3 }, 7, 2); // samples at the centres of tokens 1-2 x 1-2
    for (const [i, j] of [[1, 1], [1, 2], [2, 1], [2, 2]]) expect(four[i! * 7 + j!]).toBeCloseTo(0.25, 7);
    // Box [0, 1) x [0, 1), 2x2 samples at 0.25, 0.75: centre coordinates -0.25 (clamped to 0) and 0.25,
    // so per axis token 0 gets (1 + 0.75) / 2 and token 1 gets 0.25 / 2.
    const corner = bilinearPoolingRow({ y0: 0, x0: 0, y1: 1, x1: 1 }, 7, 2);
    expect(corner[0]).toBeCloseTo(0.875 ** 2, 6);
    expect(corner[1]).toBeCloseTo(0.875 * 0.125, 6);
    expect(corner[7 + 1]).toBeCloseTo(0.125 ** 2, 6);
  });
});

describe('the loss (core\'s infoNce with a queue, as MaskCo calls it)', () => {
  it('equals -log(e^(1/tau) / (e^(1/tau) + K)) with q = k+ and negatives orthogonal to q', () => {
    const eye = tf.eye(8);
    const q = tf.slice(eye, [0, 0], [2, 8]) as tf.Tensor2D; // e0, e1
    const queue = tf.concat([tf.slice(eye, [2, 0], [6, 8]), tf.slice(eye, [2, 0], [6, 8])]) as tf.Tensor2D; // K = 12 rows of e2..e7
    const tau = 0.2;
    const { loss, logits } = infoNce(q, q, { temperature: tau, queue, normalized: true });
    expect(logits.shape).toEqual([2, 13]);
    expect(value(loss)).toBeCloseTo(-Math.log(Math.exp(1 / tau) / (Math.exp(1 / tau) + 12)), 5);
    // Negatives at cosine 0.5 and a positive at 0: CE = log(1 + K e^(0.5/tau)).
    const n = tf.tensor2d([[0.5, Math.sqrt(0.75), 0]]);
    const { loss: l2 } = infoNce(tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[0, 0, 1]]), { temperature: tau, queue: tf.concat([n, n, n]) as tf.Tensor2D, normalized: true });
    expect(value(l2)).toBeCloseTo(Math.log(1 + 3 * Math.exp(0.5 / tau)), 4);
  });
});

/** One step's loss as the trainer computes it: sampleViews draws the crops, flips and regions, the two pipelines make the views, then loss(). */
function stepLoss(objective: MaskCoObjective, x: tf.Tensor4D, rng: Rng) {
  const given = objective.sampleViews(x.shape[0], rng);
  const views = objective.views.map((p, i) => augmentView(x, p, rng, given[i]).view);
  return objective.loss(views);
}

describe('maskco objective', () => {
  it('has MoCo v2 defaults and a fashion-mnist preset that builds on 28x28x1', () => {
    expect(parseMaskCoConfig({})).toMatchObject({
      backbone: 'vit-base/16', mphDepth: 2, headHiddenDim: 2048, headOutDim: 128, queueSize: 65536, temperature: 0.2, momentum: 0.999,
      roiSamples: 7, cropScale: [0.2, 1], maskFill: 'token', symmetric: false,
    });
    const trainer = parseTrainerConfig(maskco.trainerPresets!['fashion-mnist']);
    expect(trainer).toMatchObject({ batchSize: 64, lr: 1e-3, weightDecay: 0.1, betas: [0.9, 0.999] });
    const objective = maskco.create(parseMaskCoConfig(maskco.presets['fashion-mnist']), { imageShape: [28, 28, 1], batchSize: 4, rng: new Rng(0) });
    const { config, params } = objective.backbone();
    expect(config).toMatchObject({ imageSize: 28, patchSize: 4, embedDim: 128, depth: 4 });
    expect(Object.keys(params).sort()).toEqual(Object.keys(vitParamShapes(config)).sort()); // the query encoder, plain ViT names
    const vars = objective.variables();
    expect(vars['mph.blocks.1.attn.qkv.weight']!.shape).toEqual([128, 384]);
    expect(vars['head.0.weight']!.shape).toEqual([128, 512]);
    expect(vars['key_head.2.weight']!.shape).toEqual([512, 128]);
    expect(vars.queue!.shape).toEqual([4096, 128]);
    expect(vars.queue!.trainable).toBe(false);
    expect(vars['key_encoder.blocks.0.attn.qkv.weight']!.trainable).toBe(false);
    const norms = tf.norm(vars.queue!, 2, 1).dataSync();
    expect(Math.max(...norms.map((n) => Math.abs(n - 1)))).toBeLessThan(1e-5);
    const [decay, noDecay] = objective.paramGroups();
    expect(Object.keys(noDecay!.params)).toContain('mask_token');
    expect(Object.keys(decay!.params)).toContain('head.0.weight');
    const all = [...Object.keys(decay!.params), ...Object.keys(noDecay!.params)];
    expect(all.filter((k) => k.startsWith('key_') || k === 'queue')).toEqual([]);
    const loss = stepLoss(objective, images(4, 1, 28), new Rng(2)).loss;
    expect(loss.shape).toEqual([]);
    expect(Number.isFinite(value(loss))).toBe(true);
    objective.dispose();
  });

  it('sends gradients to the query side only: none reaches the key encoder, key head or queue', () => {
    const objective = build();
    const vars = objective.variables();
    const frozen = Object.keys(vars).filter((k) => !vars[k]!.trainable);
    const keySide = frozen.filter((k) => k === 'queue' || k.startsWith('key_'));
    expect(frozen.filter((k) => !keySide.includes(k))).toEqual(['encoder.pos_embed']);
    expect(keySide.length).toBe(1 + 4 + Object.keys(objective.encoder).length);
    // Make the key side trainable for this test only, so that the tape would reach it without the stop-gradient.
    for (const k of keySide) vars[k]!.trainable = true;
    try {
      const x = images(8);
      const { value: loss, grads } = valueAndGrads(() => stepLoss(objective, x, new Rng(3)).loss, vars);
      expect(Number.isFinite(value(loss))).toBe(true);
      for (const [name, g] of Object.entries(grads)) {
        const size = value(tf.max(tf.abs(g)));
        if (keySide.includes(name)) expect(size, name).toBe(0);
        else expect(size, name).toBeGreaterThan(0);
      }
      for (const name of ['mask_token', 'encoder.cls_token', 'encoder.blocks.1.mlp.fc2.weight', 'mph.norm.weight', 'head.2.bias']) expect(grads[name], name).toBeDefined();
      tf.dispose([loss, x, ...Object.values(grads)]);
    } finally {
      for (const k of keySide) vars[k]!.trainable = false;
    }
    objective.dispose();
  });

  it('hides the region from the query: pixels inside R do not change q', () => {
    const objective = build();
    const x = images(2, 4);
    const region = { top: 1, left: 2, height: 2, width: 2 };
    const inR = tf.tensor4d(Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => {
      const y = Math.floor((i % 256) / 16);
      const c = i % 16;
      return y >= 4 && y < 12 && c >= 8 && c < 16 ? 1 : 0;
    }), [2, 16, 16, 1]);
    const changed = tf.add(x, tf.mul(inR, 0.7)) as tf.Tensor4D;
    const qa = objective.query(x, [region, region]).dataSync();
    const qb = objective.query(changed, [region, region]).dataSync();
    qa.forEach((v, i) => expect(qb[i]).toBeCloseTo(v, 5));
    const moved = objective.query(changed, [{ ...region, left: 0 }, { ...region, left: 0 }]).dataSync();
    const unmasked = objective.query(x, [{ ...region, left: 0 }, { ...region, left: 0 }]).dataSync();
    expect(Math.max(...moved.map((v, i) => Math.abs(v - unmasked[i]!)))).toBeGreaterThan(1e-3);
    objective.dispose();
  });

  it('enqueues each step\'s unit keys at the pointer, which wraps (K = 2B)', () => {
    const objective = build({ ...tiny, queueSize: 8 }, 4);
    const before = objective.queue.arraySync() as number[][];
    const pointers: number[] = [];
    for (let s = 0; s < 3; s++) {
      const { loss, metrics } = stepLoss(objective, images(4, 10 + s), new Rng(s));
      tf.dispose([loss, ...Object.values(metrics)]);
      tf.tidy(() => objective.afterStep());
      pointers.push(objective.getState().queuePointer as number);
      if (s === 0) {
        const q = objective.queue.arraySync() as number[][];
        q.slice(0, 4).forEach((row, i) => expect(row).not.toEqual(before[i]));
        expect(q.slice(4)).toEqual(before.slice(4));
      }
    }
    expect(pointers).toEqual([4, 0, 4]);
    const norms = tf.norm(objective.queue, 2, 1).dataSync();
    expect(Math.max(...norms.map((n) => Math.abs(n - 1)))).toBeLessThan(1e-5);
    objective.dispose();
  });

  it('enqueues both directions\' keys when symmetric, with the pixel fill too', () => {
    for (const maskFill of ['token', 'pixel'] as const) {
      const objective = build({ ...tiny, symmetric: true, maskFill, queueSize: 16 }, 4);
      const { loss } = stepLoss(objective, images(4), new Rng(1));
      expect(Number.isFinite(value(loss))).toBe(true);
      tf.tidy(() => objective.afterStep());
      expect(objective.getState()).toEqual({ queuePointer: 8 });
      objective.dispose();
    }
  });

  it('crops and flips its views as sampleViews drew them, and refuses a loss() without them', () => {
    const objective = build();
    const x = images(8);
    const rng = new Rng(4);
    const given = objective.sampleViews(8, rng);
    const made = objective.views.map((p, i) => augmentView(x, p, rng, given[i]));
    made.forEach((m, i) => expect(m.geometry).toEqual(given[i]));
    // The crops differ between the views and each pair overlaps (the region lies in both).
    expect(given[0]!.crops).not.toEqual(given[1]!.crops);
    expect(Number.isFinite(value(objective.loss(made.map((m) => m.view)).loss))).toBe(true);
    expect(() => objective.loss(made.map((m) => m.view))).toThrow(/loss needs this batch's crops and regions from sampleViews/);
    objective.dispose();
  });

  it('draws every random choice from the given rng', () => {
    const objective = build();
    const x = images(8);
    const a = value(stepLoss(objective, x, new Rng(9)).loss);
    expect(value(stepLoss(objective, x, new Rng(9)).loss)).toBe(a);
    expect(value(stepLoss(objective, x, new Rng(10)).loss)).not.toBe(a);
    objective.dispose();
  });

  it('round-trips its state (the queue pointer) and refuses a bad one', () => {
    const a = build();
    a.setState({ queuePointer: 24 });
    const b = build();
    b.setState(a.getState());
    expect(b.getState()).toEqual({ queuePointer: 24 });
    expect(() => b.setState({ queuePointer: 32 })).toThrow(/queuePointer: 32 is outside the queue of 32/);
    expect(() => b.setState({ queuePointer: -1 })).toThrow(/queuePointer/);
    expect(() => b.setState({})).toThrow(/queuePointer/);
    a.dispose();
    b.dispose();
  });

  it('refuses bad configs naming the field', () => {
    expect(() => parseMaskCoConfig({ temperature: 0 })).toThrow(/temperature: /);
    expect(() => parseMaskCoConfig({ queueSize: 0 })).toThrow(/queueSize: /);
    expect(() => parseMaskCoConfig({ regionSize: [4, 2] })).toThrow(/regionSize: lower bound must be <= upper bound/);
    expect(() => parseMaskCoConfig({ regionSize: [0, 2] })).toThrow(/regionSize\[0\]: /);
    expect(() => parseMaskCoConfig({ cropScale: [0, 1] })).toThrow(/cropScale\[0\]: /);
    expect(() => parseMaskCoConfig({ momentum: 1.5 })).toThrow(/momentum: /);
    expect(() => parseMaskCoConfig({ momentum: 0.99, momentumEnd: 0.9 })).toThrow(/momentumEnd: momentumEnd 0.9 is below momentum 0.99/);
    expect(() => parseMaskCoConfig({ maskFill: 'zero' })).toThrow(/maskFill: /);
    expect(() => parseMaskCoConfig({ mphMlpRatio: 0.001 })).toThrow(/mphMlpRatio: /);
    expect(() => parseMaskCoConfig({ inImageNegatives: 2 })).toThrow(/inImageNegatives/);
    expect(() => parseMaskCoConfig({ backbone: 'vit-tiny/4', backboneOverrides: { numHeads: 5 } })).toThrow(/backboneOverrides.numHeads: embedDim 192 is not divisible/);
    // Rules that need the image shape or the batch size are checked when the objective is built.
    const make = (c: MaskCoConfigInput, batchSize: number, imageShape: [number, number, number] = [16, 16, 1]) =>
      maskco.create(parseMaskCoConfig(c), { imageShape, batchSize, rng: new Rng(0) });
    expect(() => make({ ...tiny, queueSize: 36 }, 8)).toThrow(/queueSize: 36 is not a multiple of the 8 keys enqueued per step/);
    expect(() => make({ ...tiny, queueSize: 40, symmetric: true }, 8)).toThrow(/queueSize: 40 is not a multiple of the 16 keys .*symmetric/);
    expect(() => make({ ...tiny, regionSize: [2, 5] }, 8)).toThrow(/regionSize: 5 tokens exceed the 4x4 token grid/);
    expect(() => make(tiny, 8, [16, 12, 1])).toThrow(/square/);
    expect(() => make(tiny, 8, [16, 16, 2])).toThrow(/1- or 3-channel/);
    expect(() => make(tiny, 8, [18, 18, 1])).toThrow(/patchSize: imageSize 18 is not divisible by patchSize 4/);
  });
});

describe('training through the Trainer', () => {
  const dataset = proceduralDataset({ count: 64, seed: 1, size: 16 });
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const makeTrainer = (config: TrainerConfigInput, outDir?: string) => {
    const objective = new MaskCoObjective(parseMaskCoConfig(tiny), ctx(8));
    const trainer = new Trainer({
      objective,
      method: 'maskco',
      config: parseTrainerConfig({ batchSize: 8, lr: 1e-3, warmup: 0.1, clipGradNorm: 1, ...config }),
      dataset,
      reporter: memoryReporter(),
      handleSignals: false,
      ...(outDir && { store: fileRunStore(outDir) }),
    });
    return { trainer, objective };
  };

  it('does not leak tensors across steps', async () => {
    const { trainer, objective } = makeTrainer({ budget: '20steps' });
    await trainer.run({ limit: 2 });
    const after2 = tf.memory().numTensors;
    const { losses } = await trainer.run({ limit: 18 });
    expect(tf.memory().numTensors).toBe(after2);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(objective.getState()).toEqual({ queuePointer: (20 * 8) % 32 });
    trainer.dispose();
    objective.dispose();
  });

  it('resumes the queue and its pointer from a checkpoint, then continues identically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'maskco-'));
    dirs.push(dir);
    const a = makeTrainer({ budget: '6steps' }, dir);
    await a.trainer.run({ limit: 3 });
    expect(a.objective.getState()).toEqual({ queuePointer: 24 });
    const b = makeTrainer({ budget: '6steps' });
    await b.trainer.restore(await loadCheckpoint(join(dir, 'checkpoints')));
    expect(b.objective.getState()).toEqual({ queuePointer: 24 });
    expect(Array.from(b.objective.variables().queue!.dataSync())).toEqual(Array.from(a.objective.variables().queue!.dataSync()));
    const ra = await a.trainer.run();
    const rb = await b.trainer.run();
    expect(rb.losses).toEqual(ra.losses);
    expect(b.objective.getState()).toEqual(a.objective.getState());
    for (const t of [a, b]) {
      t.trainer.dispose();
      t.objective.dispose();
    }
  });
});
