// WebGPU against native TensorFlow: every registered method trains 3 steps from one seed on both
// backends (vit-micro/4, batch 4, 28x28 procedural images) and their loss sequences agree. On a CPU
// machine WebGPU runs on SwiftShader's Vulkan driver (VK_ICD_FILENAMES, see README "GPU"): slow, but
// the same WGSL shaders a GPU runs. Skips, saying what is missing, without an adapter or tfjs-node.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fileRunStore, availableBackends, getObjective, initBackend, memoryReporter, probeBackends, Rng, Trainer, proceduralDataset } from '@maskedssl/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPretrain } from '../packages/cli/src/commands/pretrain.js';
import { methodNames, registerMethods } from '../packages/cli/src/methods.js';
import { resolveRunConfig } from '../packages/cli/src/run-config.js';

registerMethods();
const probes = await probeBackends();
const webgpu = probes.find((p) => p.name === 'webgpu')!;
const native = (await availableBackends()).includes('tensorflow');
const missing = !webgpu.available ? `no WebGPU adapter (${webgpu.reason})` : !native ? 'native TensorFlow backend not built (npm run setup:native)' : null;

/** How far the two backends' losses may drift apart, relative, over 3 steps (see the closing note). */
const lossTolerance = 2e-3;

let dir = '';
const sets = ['method.backbone=vit-micro/4', 'trainer.batchSize=4', 'trainer.seed=3'];
// MOCA's new words come from distinct images of a batch: fewer of them (and a smaller codebook) at batch 4.
const extraSets: Record<string, string[]> = { moca: ['method.numNewWords=4', 'method.numWords=64'] };

async function losses(backend: 'tensorflow' | 'webgpu', method: string): Promise<number[]> {
  await initBackend({ prefer: backend, log: null });
  const config = resolveRunConfig({ method, sets: [...sets, ...(extraSets[method] ?? [])], budget: '3steps', dataset: { name: 'procedural', proceduralTrain: 64 } });
  const out = await mkdtemp(join(dir, `${method}-${backend}-`));
  const { result } = await runPretrain(config, out, { reporter: memoryReporter() });
  return result.losses;
}

describe.skipIf(missing !== null)(missing ? `WebGPU parity (skipped: ${missing})` : `WebGPU parity on ${webgpu.adapter!.description || webgpu.adapter!.architecture}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'maskedssl-webgpu-'));
    // MOMA distils from a teacher checkpoint: one MAE step on native TensorFlow makes one.
    await initBackend({ prefer: 'tensorflow', log: null });
    const teacher = join(dir, 'teacher');
    await runPretrain(resolveRunConfig({ method: 'mae', sets, budget: '1steps', dataset: { name: 'procedural', proceduralTrain: 64 } }), teacher, { reporter: memoryReporter() });
    extraSets.moma = [`method.teachers=[{"checkpoint":"${teacher}"}]`];
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a checkpoint written on webgpu continues on tensorflow, and back, with the losses of one backend throughout', async () => {
    const config = resolveRunConfig({ method: 'mae', sets, budget: '4steps', dataset: { name: 'procedural' } });
    const dataset = proceduralDataset({ count: 64, seed: 0, size: 28 });
    const out = await mkdtemp(join(dir, 'switch-'));
    const segment = async (backend: 'tensorflow' | 'webgpu', steps: number, resume: boolean) => {
      await initBackend({ prefer: backend, log: null });
      const objective = await getObjective('mae').create(config.methodConfig as never, { imageShape: [28, 28, 1], batchSize: 4, rng: new Rng(config.trainer.seed + 1) });
      const trainer = new Trainer({ objective, method: 'mae', config: config.trainer, dataset, store: fileRunStore(out), reporter: memoryReporter(), handleSignals: false });
      if (resume) await trainer.restore(join(out, 'checkpoints'));
      const r = await trainer.run({ limit: steps });
      trainer.dispose();
      objective.dispose();
      return r.losses;
    };
    const switched = [...(await segment('webgpu', 2, false)), ...(await segment('tensorflow', 1, true)), ...(await segment('webgpu', 1, true))];
    await rm(out, { recursive: true });
    const straight = await segment('tensorflow', 4, false);
    console.log(`[webgpu parity] mae webgpu 2 -> tensorflow 1 -> webgpu 1: ${switched.map((v) => v.toFixed(6)).join(' ')}; tensorflow 4: ${straight.map((v) => v.toFixed(6)).join(' ')}`);
    expect(switched).toHaveLength(4);
    switched.forEach((v, i) => expect(Math.abs(v - straight[i]!) / straight[i]!).toBeLessThan(lossTolerance));
  });

  for (const method of methodNames()) {
    it(`${method}: 3 steps from one seed give the same losses on webgpu and tensorflow`, async () => {
      const t0 = performance.now();
      const want = await losses('tensorflow', method);
      const t1 = performance.now();
      const got = await losses('webgpu', method);
      const t2 = performance.now();
      const rel = got.map((g, i) => Math.abs(g - want[i]!) / Math.max(Math.abs(want[i]!), 1e-6));
      console.log(`[webgpu parity] ${method}: tensorflow ${want.map((v) => v.toFixed(6)).join(' ')} (${((t1 - t0) / 1000).toFixed(1)} s); webgpu ${got.map((v) => v.toFixed(6)).join(' ')} (${((t2 - t1) / 1000).toFixed(1)} s); max rel ${Math.max(...rel).toExponential(2)}`);
      expect(got).toHaveLength(3);
      for (const r of rel) expect(r).toBeLessThan(lossTolerance);
      expect(tf.getBackend()).toBe('webgpu');
    });
  }
});
