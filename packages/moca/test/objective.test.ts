// MOCA as an Objective: gradients reach only the learnable parameters, the step's codebook/teacher
// update timing, parameter groups, metrics and the collapse warning, then 20 steps through core's
// Trainer without a leak and an exact resume (codebook included).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fileRunStore, initBackend, memoryReporter, parseTrainerConfig, proceduralDataset, Rng, Trainer, updateMomentumPairs, valueAndGrads, type StepInfo } from '@maskedssl/core/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { maskSizes, moca, MocaObjective, parseMocaConfig, type MocaConfigInput } from '../src/index.js';

await initBackend({ log: null });

// A tiny MOCA: 16x16 images, patch 4 (4x4 = 16 tokens, a 2x2 interior), width 16, depth 2, K = 32.
const tiny: MocaConfigInput = {
  backbone: 'vit-tiny/4',
  backboneOverrides: { patchSize: 4, embedDim: 16, depth: 2, numHeads: 2 },
  numWords: 32,
  numNewWords: 4,
  skipOffset: 1,
  earlyLayer: 1,
  decoderDepth: 1,
  decoderEmbedDim: 16,
  decoderNumHeads: 2,
};
const create = (overrides: Partial<MocaConfigInput> = {}, seed = 42) =>
  moca.create(parseMocaConfig({ ...tiny, ...overrides }), { imageShape: [16, 16, 1], batchSize: 8, rng: new Rng(seed) }) as MocaObjective;
const info: StepInfo = { step: 0, totalSteps: 10, epoch: 0 };
const views = () => [0, 1].map((s) => tf.randomUniform([8, 16, 16, 1], 0, 1, 'float32', s) as tf.Tensor4D);
const arr = (t: tf.Tensor) => Array.from(t.dataSync());

afterEach(() => vi.restoreAllMocks());

describe('the objective', () => {
  it('no gradient reaches the teacher or the codebook; every learnable parameter gets one', () => {
    const obj = create();
    const vars = obj.variables();
    const learnable = Object.assign({}, ...obj.paramGroups().map((g) => g.params)) as Record<string, tf.Variable>;
    const frozenNames = Object.keys(vars).filter((n) => n.startsWith('teacher.') || n.startsWith('codebook.'));
    expect(frozenNames).toHaveLength(Object.keys(obj.teacher.params).length + 3);
    for (const n of frozenNames) {
      expect(vars[n]!.trainable).toBe(false);
      expect(n in learnable).toBe(false);
    }
    const [v1, v2] = views();
    tf.tidy(() => {
      const { value, grads } = valueAndGrads(() => obj.loss([v1!, v2!], info, new Rng(1)).loss, vars);
      expect(Number.isFinite(value.dataSync()[0])).toBe(true);
      expect(Object.keys(grads).sort()).toEqual(Object.keys(learnable).sort());
      // Even asked for explicitly, at the engine level (no trainable filter), the teacher and the
      // codebook receive nothing: the teacher and the codes run off the tape (noGrad), and the
      // codebook's words reach the prototype generators through stopGradient (a zero, if anything).
      const frozen = frozenNames.map((n) => vars[n]!);
      const r = tf.engine().gradients(() => obj.loss([v1!, v2!], info, new Rng(1)).loss, frozen, undefined, true);
      r.grads.forEach((g, i) => {
        if (g) expect([frozenNames[i], Math.max(...arr(tf.abs(g)))]).toEqual([frozenNames[i], 0]);
      });
    });
    tf.dispose([v1!, v2!]);
    obj.dispose();
  });

  it('a step uses the pre-update codebook; afterStep enqueues new words and moves dist_norm, the momentum pair the teacher', () => {
    const obj = create();
    const [v1, v2] = views();
    const loss = () => tf.tidy(() => obj.loss([v1!, v2!], info, new Rng(3)).loss.dataSync()[0]!);
    const before = { words: arr(obj.codebook.words), teacher: arr(obj.teacher.params['blocks.0.attn.qkv.weight']!) };
    const first = loss();
    expect(loss()).toBe(first); // no state changed by loss()
    // Move the student a little so the EMA has something to do.
    tf.tidy(() => obj.student['blocks.0.attn.qkv.weight']!.assign(tf.add(obj.student['blocks.0.attn.qkv.weight']!, 0.1)));
    tf.tidy(() => {
      obj.afterStep({ step: 0, totalSteps: 10, epoch: 0 });
      updateMomentumPairs(obj.momentumPairs(), { step: 0, totalSteps: 10, epoch: 0 });
    });
    expect(obj.codebook.pointer).toBe(4);
    const words = arr(obj.codebook.words);
    expect(words.slice(4 * 16)).toEqual(before.words.slice(4 * 16)); // only the 4 oldest rows replaced
    for (let k = 0; k < 4; k++) expect(Math.hypot(...words.slice(k * 16, (k + 1) * 16))).toBeCloseTo(1, 5);
    expect(words.slice(0, 64)).not.toEqual(before.words.slice(0, 64));
    expect(obj.codebook.distNormPrev.dataSync()[0]).not.toBe(0.5);
    expect(obj.codebook.distNormPrev.dataSync()[0]).toBe(obj.codebook.distNorm.dataSync()[0]);
    expect(arr(obj.teacher.params['blocks.0.attn.qkv.weight']!)).not.toEqual(before.teacher);
    expect(loss()).not.toBe(first);
    // The teacher is what evaluation reads.
    expect(obj.backbone().params).toBe(obj.teacher.params);
    expect(obj.getState()).toMatchObject({ codebookPointer: 4 });
    tf.dispose([v1!, v2!]);
    obj.dispose();
  });

  it('parameter groups: the generators at the constant lrWgen (weight decay 0.05, 0 for vectors)', () => {
    const obj = create();
    const groups = obj.paramGroups();
    const gen = groups.filter((g) => g.lr !== undefined);
    expect(gen.map((g) => [g.lr, g.weightDecay])).toEqual([
      [1e-4, 0.05],
      [1e-4, 0],
    ]);
    expect(Object.keys(gen[0]!.params).sort()).toEqual(['image_head.fc1.weight', 'image_head.fc2.weight', 'token_head.fc1.weight', 'token_head.fc2.weight', 'token_head.skip.weight']);
    expect(Object.keys(gen[1]!.params).every((n) => gen[1]!.params[n]!.rank === 1)).toBe(true);
    // As in the reference, the class and mask tokens are decayed (only rank <= 1 tensors are not).
    const decayed = groups.find((g) => g.lr === undefined && g.weightDecay === undefined)!;
    expect(Object.keys(decayed.params)).toContain('encoder.cls_token');
    expect(Object.keys(decayed.params)).toContain('decoder.mask_token');
    obj.dispose();
  });

  it('metrics carry the loss parts and the codebook perplexity; a collapse warns once', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const obj = create({ collapsePerplexity: 1e9 });
    const [v1, v2] = views();
    for (const step of [0, 1, 2]) {
      tf.tidy(() => {
        const r = obj.loss([v1!, v2!], { ...info, step }, new Rng(step));
        expect(Object.keys(r.metrics).sort()).toEqual(['codebookPerplexity', 'distNorm', 'imageLoss', 'tokenLoss']);
        const [img, tok, ppl] = [r.metrics.imageLoss, r.metrics.tokenLoss, r.metrics.codebookPerplexity].map((t) => t!.dataSync()[0]!) as [number, number, number];
        expect(r.loss.dataSync()[0]).toBeCloseTo(0.5 * img + 0.5 * tok, 5);
        expect(ppl).toBeGreaterThanOrEqual(1);
        expect(ppl).toBeLessThanOrEqual(32);
        obj.afterStep({ ...info, step });
      });
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/^moca: codebook usage perplexity .* at step 0 is below 1000000000/);
    tf.dispose([v1!, v2!]);
    obj.dispose();
  });
});

describe('maskedView (the playground)', () => {
  it("two complementary rounds and the teacher's codeword of every token, without leaking", async () => {
    const objective = create();
    const images = views()[0]!;
    const before = tf.memory().numTensors;
    const view = objective.maskedView(images, new Rng(3));
    const [r1, r2] = (await Promise.all(view.rounds.map((r) => r.visible.array()))) as number[][][];
    const s = maskSizes(parseMocaConfig(tiny), 16);
    expect(view.rounds.map((r) => r.visible.shape)).toEqual([[8, s.visible1], [8, s.visible2]]);
    r1!.forEach((row, i) => expect(row.filter((t) => r2![i]!.includes(t))).toEqual([])); // disjoint
    const words = view.assignments!.words;
    expect(words.shape).toEqual([8, 16]);
    expect(words.dtype).toBe('int32');
    const w = await words.data();
    expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...w)).toBeLessThan(view.assignments!.numWords);
    tf.dispose([words, ...view.rounds.map((r) => r.visible)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(images);
    objective.dispose();
  });
});

describe('training through core', () => {
  const dataset = proceduralDataset({ count: 64, seed: 1, size: 16 });
  const makeTrainer = (budget: string, outDir?: string) => {
    const objective = create();
    const config = parseTrainerConfig({ batchSize: 8, lr: 1e-3, warmup: 0.2, clipGradNorm: 1, budget });
    const trainer = new Trainer({ objective, method: 'moca', config, dataset, ...(outDir && { store: fileRunStore(outDir) }), reporter: memoryReporter(), handleSignals: false });
    return { trainer, objective };
  };

  it('does not leak tensors over 20 steps', async () => {
    const { trainer, objective } = makeTrainer('30steps');
    await trainer.run({ limit: 2 });
    const after2 = tf.memory().numTensors;
    const r = await trainer.run({ limit: 18 });
    expect(r.steps).toBe(20);
    expect(tf.memory().numTensors).toBe(after2);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    trainer.dispose();
    objective.dispose();
  });

  it('an interrupted and resumed run (codebook included) has the losses of an uninterrupted one', async () => {
    const a = makeTrainer('10steps');
    const full = await a.trainer.run();
    const fullWords = arr(a.objective.codebook.words);
    const fullPointer = a.objective.codebook.pointer;
    a.trainer.dispose();
    a.objective.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'moca-resume-'));
    const b = makeTrainer('10steps', dir);
    const first = await b.trainer.run({ limit: 4 });
    expect(b.objective.codebook.pointer).toBe(16);
    b.trainer.dispose();
    b.objective.dispose();

    const c = makeTrainer('10steps', dir);
    await c.trainer.restore(join(dir, 'checkpoints'));
    expect(c.objective.codebook.pointer).toBe(16);
    const rest = await c.trainer.run();
    expect([...first.losses, ...rest.losses]).toEqual(full.losses); // bit for bit
    expect(c.objective.codebook.pointer).toBe(fullPointer);
    expect(fullPointer).toBe(8); // 10 steps x 4 words wrapped around a queue of 32
    expect(arr(c.objective.codebook.words)).toEqual(fullWords);
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(lines[0].metrics)).toEqual(expect.arrayContaining(['imageLoss', 'tokenLoss', 'codebookPerplexity', 'gradNorm']));
    c.trainer.dispose();
    c.objective.dispose();
  });
});
