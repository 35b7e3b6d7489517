import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { proceduralDataset } from '../src/data/procedural.js';
import { fileRunStore, loadCheckpoint, singleFileCheckpoint } from '../src/node.js';
import { parseBudget } from '../src/train/budget.js';
import { memoryReporter } from '../src/train/progress.js';
import { registerObjective } from '../src/train/registry.js';
import { NonFiniteLossError, parseTrainerConfig, Trainer, type TrainerConfigInput } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { useBackend } from './helpers.js';
import { toyObjective } from './toy-objective.js';

await useBackend();
registerObjective(toyObjective);

const dataset = proceduralDataset({ count: 96, seed: 1, size: 16 });
const tmp = () => mkdtemp(join(tmpdir(), 'maskedssl-train-'));

function makeTrainer(config: TrainerConfigInput, outDir?: string, methodConfig: Record<string, unknown> = {}) {
  const def = toyObjective;
  const parsed = parseTrainerConfig({ batchSize: 8, lr: 1e-3, warmup: 0.2, clipGradNorm: 1, ...config });
  const objective = def.create(def.configSchema.parse(methodConfig), { imageShape: [16, 16, 1], batchSize: 8, rng: new Rng(42) });
  const reporter = memoryReporter();
  const trainer = new Trainer({ objective, method: 'toy', config: parsed, dataset, ...(outDir && { store: fileRunStore(outDir) }), reporter, handleSignals: false });
  return { trainer, objective, reporter };
}

describe('budgets', () => {
  it('parses steps, epochs and time, and names the accepted forms', () => {
    expect(parseBudget('500')).toEqual({ kind: 'steps', steps: 500 });
    expect(parseBudget('20steps')).toEqual({ kind: 'steps', steps: 20 });
    expect(parseBudget('2.5epochs')).toEqual({ kind: 'epochs', epochs: 2.5 });
    expect(parseBudget('10m')).toEqual({ kind: 'time', seconds: 600 });
    expect(parseBudget('90s')).toEqual({ kind: 'time', seconds: 90 });
    expect(parseBudget('1.5h')).toEqual({ kind: 'time', seconds: 5400 });
    expect(() => parseBudget('ten minutes')).toThrow(/expected steps .* epochs .* or time/);
    expect(() => parseBudget('2.5steps')).toThrow(/whole number/);
  });

  it('refuses bad trainer configs naming the field', () => {
    expect(() => parseTrainerConfig({ batchSize: 0 })).toThrow(/batchSize: /);
    expect(() => parseTrainerConfig({ lrr: 1 })).toThrow(/lrr/);
    expect(() => parseTrainerConfig({ budget: 'forever' })).toThrow(/budget: budget 'forever'/);
    expect(() => parseTrainerConfig({ lr: 1e-4, minLr: 1e-3 })).toThrow(/minLr: minLr 0.001 exceeds lr 0.0001/);
  });
});

describe('trainer', () => {
  it('an interrupted and resumed run has the same losses as an uninterrupted one', async () => {
    const a = makeTrainer({ budget: '10steps' });
    const full = await a.trainer.run();
    a.trainer.dispose();
    a.objective.dispose();
    expect(full.losses).toHaveLength(10);
    expect(full.stoppedBy).toBe('budget');

    const dir = await tmp();
    const b = makeTrainer({ budget: '10steps' }, dir);
    const first = await b.trainer.run({ limit: 4 });
    expect(first.stoppedBy).toBe('limit');
    expect(first.checkpoint).toMatch(/step-00000004$/);
    b.trainer.dispose();
    b.objective.dispose();

    const c = makeTrainer({ budget: '10steps' }, dir);
    await c.trainer.restore(join(dir, 'checkpoints'));
    const rest = await c.trainer.run();
    expect(rest.steps).toBe(10);
    const resumed = [...first.losses, ...rest.losses];
    expect(resumed).toHaveLength(10);
    expect(resumed).toEqual(full.losses); // bit for bit
    expect((c.objective.getState?.() as { afterSteps: number }).afterSteps).toBe(10);
    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(lines[0]).toHaveProperty('imgPerSec');
    expect(lines[0].metrics).toHaveProperty('targetStd');
    expect(lines[0].metrics).toHaveProperty('gradNorm');
    c.trainer.dispose();
    c.objective.dispose();
  });

  it('pauses (stopWhen) and continues, and its single-file checkpoint (a download in the page) resumes bit for bit', async () => {
    const a = makeTrainer({ budget: '8steps' });
    const full = await a.trainer.run();
    a.trainer.dispose();
    a.objective.dispose();

    const b = makeTrainer({ budget: '8steps' });
    let steps = 0;
    const first = await b.trainer.run({ stopWhen: () => steps++ === 3 });
    expect(first.stoppedBy).toBe('limit');
    expect(first.losses).toHaveLength(3);
    const bytes = singleFileCheckpoint(await b.trainer.encodeCheckpoint());
    const dir = await tmp();
    await writeFile(join(dir, 'toy.safetensors'), bytes);
    const paused = await b.trainer.run({ limit: 2 }); // the paused run goes on
    b.trainer.dispose();
    b.objective.dispose();

    const c = makeTrainer({ budget: '8steps' });
    await c.trainer.restore(await loadCheckpoint(join(dir, 'toy.safetensors')));
    const rest = await c.trainer.run();
    expect([...first.losses, ...rest.losses]).toEqual(full.losses);
    expect(paused.losses).toEqual(full.losses.slice(3, 5));
    c.trainer.dispose();
    c.objective.dispose();
  });

  it('stops on a non-finite loss, keeping a checkpoint of the last good state', async () => {
    const dir = await tmp();
    const { trainer, objective } = makeTrainer({ budget: '10steps' }, dir, { nanAtStep: 3 });
    const err = await trainer.run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as Error).message).toMatch(/loss is NaN at step 3 .*training stopped; the last good state is saved in .*step-00000003/);
    const names = await readdir(join(dir, 'checkpoints'));
    expect(names).toEqual(['step-00000003']);
    // The saved weights are finite: restoring and evaluating them works.
    const again = makeTrainer({ budget: '10steps' }, dir);
    await again.trainer.restore(join(dir, 'checkpoints'));
    for (const v of Object.values(again.objective.variables())) expect(Array.from(v.dataSync()).every(Number.isFinite)).toBe(true);
    trainer.dispose();
    objective.dispose();
    again.trainer.dispose();
    again.objective.dispose();
  });

  it('refuses a checkpoint of another method or another shape', async () => {
    const dir = await tmp();
    const a = makeTrainer({ budget: '2steps' }, dir);
    await a.trainer.run();
    const other = makeTrainer({ budget: '2steps' }, undefined, { embedDim: 32 });
    await expect(other.trainer.restore(await loadCheckpoint(dir + '/checkpoints'))).rejects.toThrow(/'patch_embed.proj.weight' is \[16,16\] there but \[16,32\] in the model/);
    const wrongMethod = new Trainer({ objective: a.objective, method: 'mae', config: parseTrainerConfig({ batchSize: 8 }), dataset, reporter: memoryReporter(), handleSignals: false });
    await expect(wrongMethod.restore(await loadCheckpoint(dir + '/checkpoints'))).rejects.toThrow(/was written by method 'toy', not 'mae'/);
  });

  it('a time budget fixes its step count after measuring, and epochs convert to steps', async () => {
    const t = makeTrainer({ budget: '3s' });
    const r = await t.trainer.run();
    // It stops at the fixed step count or when the time is up, whichever comes first.
    expect(r.steps).toBeLessThanOrEqual(r.totalSteps);
    expect(r.steps).toBeGreaterThan(3);
    expect(r.elapsedSeconds).toBeGreaterThan(2);
    expect(r.elapsedSeconds).toBeLessThan(6);
    expect(t.reporter.messages.some((m) => /time budget: .* s\/step measured, the run is fixed at \d+ steps/.test(m))).toBe(true);
    const e = makeTrainer({ budget: '0.5epochs' });
    expect((await e.trainer.run()).steps).toBe(6); // 96 images / batch 8 = 12 steps per epoch
  });

  it('a time budget re-fixes its step count when the steps speed up, and uses the time it was given', async () => {
    // A fake clock that only the steps advance: 12 steps of 300 ms (as a method whose early steps are
    // slow), then 100 ms each, and 200 ms from step 61 on; the budget is 10 s of that clock, whatever
    // the real speed.
    let clock = 0;
    let calls = 0;
    const def = toyObjective;
    const objective = def.create(def.configSchema.parse({}), { imageShape: [16, 16, 1], batchSize: 8, rng: new Rng(42) });
    const after = objective.afterStep?.bind(objective);
    objective.afterStep = (info, rng) => {
      after?.(info, rng);
      const i = calls++;
      clock += i < 12 ? 300 : i < 60 ? 100 : 200;
    };
    const reporter = memoryReporter();
    const config = parseTrainerConfig({ batchSize: 8, lr: 1e-3, warmup: 0.2, budget: '10s' });
    const trainer = new Trainer({ objective, method: 'toy', config: { ...config, knnEvery: 50, knnTrain: 64, knnTest: 32 }, dataset, knnData: { train: dataset, test: dataset }, reporter, handleSignals: false, clock: () => clock });
    const r = await trainer.run();
    const fixes = reporter.messages.map((m) => /(\d+\.\d+) s\/step measured, the run is (fixed|re-fixed) at (\d+) steps/.exec(m)).filter((m) => m !== null);
    // Step 12: steps 3-12 took 0.3 s, 3.6 s are spent: 12 + floor(6.4 / 0.3) = 33 steps. Step 24:
    // steps 13-24 took 0.1 s, 4.8 s spent (< half the budget): 24 + floor(5.2 / 0.1) = 76. At step
    // 48, 7.2 s are spent: no more fixes. Step 60 ends at 8.4 s; 8 steps of 0.2 s use up the rest.
    expect(fixes.map((m) => [m[1], m[2], Number(m[3])])).toEqual([
      ['0.30', 'fixed', 33],
      ['0.10', 're-fixed', 76],
    ]);
    expect(r.totalSteps).toBe(76);
    expect(r.steps).toBe(68); // stopped by the time
    expect(r.elapsedSeconds).toBeCloseTo(10, 6); // the first plan alone would have stopped at 5.7 s
    // Online k-NN every 50 steps and at the last one, also when the time (not the count) ends the run.
    expect(reporter.records.filter((x) => x.knn !== undefined).map((x) => x.step + 1)).toEqual([50, 68]);
    trainer.dispose();
    objective.dispose();
  });

  it('does not leak tensors across steps', async () => {
    const { trainer } = makeTrainer({ budget: '30steps' });
    await trainer.run({ limit: 2 });
    const after2 = tf.memory().numTensors;
    await trainer.run({ limit: 18 });
    expect(tf.memory().numTensors).toBe(after2);
  });
});
